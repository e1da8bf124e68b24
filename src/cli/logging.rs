//! Command line: logs on stderr, level from `RUST_LOG` (default `info` for
//! the daemon, `warn` for the other commands). Under systemd, when stderr
//! is the journal's stream, each line starts with its syslog priority
//! (`<4>` for a warning: sd-daemon(3)), so that `journalctl -p warning`
//! finds warnings and errors; journald stamps the time itself. On a
//! terminal, log lines are written above the progress bar.

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::{FmtContext, format::Format};
use tracing_subscriber::registry::LookupSpan;

use super::output::LogWriter;

/// The crates under feedwatch that log a line per connection, handshake or
/// request at debug: noise for an operator who asked feedwatch for more
/// (`RUST_LOG=debug`, the drop-in of docs/operations.md), at any level that
/// does not name them.
const QUIET_CRATES: [&str; 4] = ["hyper_util", "reqwest", "rustls", "h2"];

/// The log filter: `RUST_LOG` (`rust_log`) when set, else `info` for the
/// daemon and `warn` for the other commands; either way the chatty crates
/// stay at warn unless it names them.
fn filter_spec(rust_log: Option<&str>, daemon: bool) -> String {
    let base = match rust_log.map(str::trim) {
        Some(l) if !l.is_empty() => l,
        _ if daemon => "info",
        _ => "warn",
    };
    let mut spec = base.to_string();
    for name in QUIET_CRATES {
        if !base.contains(name) {
            spec.push_str(&format!(",{name}=warn"));
        }
    }
    spec
}

/// Colour on a terminal, unless `NO_COLOR` is set to anything but empty
/// (no-color.org).
pub(super) fn colour(on_terminal: bool) -> bool {
    colour_with(on_terminal, std::env::var_os("NO_COLOR").as_deref())
}

fn colour_with(on_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    on_terminal && no_color.is_none_or(|v| v.is_empty())
}

pub fn init(daemon: bool) {
    let rust_log = std::env::var("RUST_LOG").ok();
    let spec = filter_spec(rust_log.as_deref(), daemon);
    // A RUST_LOG the filter cannot read is said, and the default used.
    let (filter, bad) = match EnvFilter::try_new(&spec) {
        Ok(f) => (f, None),
        Err(e) => (EnvFilter::new(filter_spec(None, daemon)), Some(e)),
    };
    if stderr_is_the_journal() {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .event_format(Journald(format().without_time().with_target(false)))
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(LogWriter)
            .with_ansi(colour(std::io::IsTerminal::is_terminal(&std::io::stderr())))
            .init();
    }
    if let Some(e) = bad {
        tracing::warn!(error = %e, "RUST_LOG cannot be read; logging at the default level");
    }
}

/// A panic is a bug. The default hook writes it as several lines (and a
/// backtrace with `RUST_BACKTRACE`) that the journal shows as unrelated
/// entries, after the ones of the poll it broke; this one writes one error
/// line, where and what, through the log. A panic inside one feed's parse or
/// task costs that feed only and is reported with it too (docs/operations.md, "Bad
/// input"). `RUST_BACKTRACE=1` still adds the backtrace, to that one entry.
pub fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        // `capture` reads RUST_BACKTRACE.
        let backtrace = std::backtrace::Backtrace::capture();
        log_panic(info.payload(), info.location(), &backtrace);
    }));
}

/// The hook's one line: what panicked and where (and the backtrace when
/// one was captured). Apart from the hook, so that a test calls it without
/// swapping the process-wide hook under the tests running beside it.
fn log_panic(
    payload: &(dyn std::any::Any + Send),
    location: Option<&std::panic::Location<'_>>,
    backtrace: &std::backtrace::Backtrace,
) {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into());
    let at = location
        .map(|l| format!("{}:{}", l.file(), l.line()))
        .unwrap_or_default();
    if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
        tracing::error!(%at, panic = %what, %backtrace, "a bug: feedwatch panicked");
    } else {
        tracing::error!(%at, panic = %what, "a bug: feedwatch panicked");
    }
}

fn format() -> Format {
    format::format()
}

/// syslog priorities, for `eprint_at`.
pub const ERR: u8 = 3;
pub const WARNING: u8 = 4;

/// Writes `text` to stderr as the lines of one message of `priority`: under
/// the journal each line starts with `<N>` (sd-daemon(3)), so that `check`'s
/// errors and warnings and a fatal error at start reach `journalctl -p
/// warning` as the log's own lines do. A message printed without it was
/// filed at the stream's default, info.
pub fn eprint_at(priority: u8, text: &str) {
    use std::io::Write;
    let journal = stderr_is_the_journal();
    let mut err = std::io::stderr().lock();
    for line in text.lines() {
        let written = if journal {
            writeln!(err, "<{priority}>{line}")
        } else {
            writeln!(err, "{line}")
        };
        // stderr gone: nothing else to tell it to.
        if written.is_err() {
            return;
        }
    }
}

/// systemd sets `JOURNAL_STREAM=device:inode` of the stream it connects to
/// stderr; a child whose stderr goes elsewhere (a pipe in a script) inherits
/// the variable, so the stream itself is compared.
fn stderr_is_the_journal() -> bool {
    stderr_is(std::env::var_os("JOURNAL_STREAM").as_deref())
}

/// Whether stderr is the stream `device:inode` names.
fn stderr_is(stream: Option<&std::ffi::OsStr>) -> bool {
    let Some((dev, ino)) = stream
        .and_then(|v| v.to_str())
        .and_then(|v| v.split_once(':'))
    else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    use std::os::fd::AsFd;
    let Ok(stderr) = std::io::stderr().as_fd().try_clone_to_owned() else {
        return false;
    };
    let file = std::fs::File::from(stderr);
    use std::os::unix::fs::MetadataExt;
    file.metadata()
        .is_ok_and(|m| m.dev() == dev && m.ino() == ino)
}

/// The syslog priority journald reads from a line's `<N>` prefix.
fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

/// A format that puts the event's priority before each line.
struct Journald<F>(F);

impl<S, N, F> FormatEvent<S, N> for Journald<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        write!(writer, "<{}>", priority(event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn no_color_turns_colour_off_on_a_terminal_too() {
        use std::ffi::OsStr;
        assert!(colour_with(true, None));
        assert!(colour_with(true, Some(OsStr::new(""))), "empty: unset");
        assert!(!colour_with(true, Some(OsStr::new("1"))));
        assert!(!colour_with(false, None), "not a terminal");
    }

    #[test]
    fn any_rust_log_keeps_the_chatty_crates_quiet_unless_it_names_them() {
        let quiet = ",hyper_util=warn,reqwest=warn,rustls=warn,h2=warn";
        assert_eq!(filter_spec(None, true), format!("info{quiet}"));
        assert_eq!(filter_spec(None, false), format!("warn{quiet}"));
        assert_eq!(
            filter_spec(Some("debug"), true),
            format!("debug{quiet}"),
            "the RUST_LOG=debug drop-in of docs/operations.md"
        );
        assert_eq!(
            filter_spec(Some("feedwatch=trace"), true),
            format!("feedwatch=trace{quiet}")
        );
        assert_eq!(
            filter_spec(Some("info,rustls=debug"), true),
            "info,rustls=debug,hyper_util=warn,reqwest=warn,h2=warn",
            "asked for by name"
        );
        assert_eq!(filter_spec(Some(" "), true), format!("info{quiet}"));
        // What the filter makes of it: the crates' debug lines are off.
        let filter = EnvFilter::try_new(filter_spec(Some("debug"), true)).unwrap();
        assert!(filter.to_string().contains("hyper_util=warn"), "{filter}");
    }

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn journal_lines_start_with_their_priority() {
        let buffer = Buffer::default();
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .with_max_level(Level::DEBUG)
            .event_format(Journald(format().without_time().with_target(false)))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!("a");
            tracing::warn!(feed = "x", "b");
            tracing::info!("c");
            tracing::debug!("d");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let prefixes: Vec<&str> = text.lines().map(|l| &l[..3]).collect();
        assert_eq!(prefixes, ["<3>", "<4>", "<6>", "<7>"], "{text}");
        assert!(text.contains("<4> WARN b feed=\"x\""), "{text}");
    }

    #[test]
    fn a_panic_is_one_error_line_in_the_log() {
        let buffer = Buffer::default();
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .event_format(Journald(format().without_time().with_target(false)))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let payload: Box<dyn std::any::Any + Send> = Box::new("feed-rs assertion");
            log_panic(
                payload.as_ref(),
                Some(std::panic::Location::caller()),
                &std::backtrace::Backtrace::disabled(),
            );
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.starts_with("<3>ERROR a bug: feedwatch panicked")
                && text.contains("panic=feed-rs assertion")
                && text.contains("src/cli/logging.rs:"),
            "{text}"
        );
    }

    #[test]
    fn the_journal_is_only_the_stream_systemd_named() {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata("/proc/self/fd/2").unwrap();
        let own = format!("{}:{}", meta.dev(), meta.ino());
        assert!(stderr_is(Some(std::ffi::OsStr::new(&own))));
        assert!(!stderr_is(Some(std::ffi::OsStr::new("1:1"))));
        assert!(!stderr_is(Some(std::ffi::OsStr::new("garbage"))));
        assert!(!stderr_is(None));
    }
}
