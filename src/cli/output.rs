//! Command line: where output goes. What a command prints goes to stdout
//! through `Out`: a write to a closed pipe (`feedwatch opml export | head
//! -1`) ends the command as it ends `cat`, quietly, by SIGPIPE. Log lines go
//! to stderr through `LogWriter`, which puts them above a progress bar
//! instead of on its line; `Progress` is that bar, shown only on a terminal.

use std::fmt;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use super::CliError;

/// stdout, for what a command prints.
pub struct Out(std::io::Stdout);

/// `outln!(out, "…", args)`: one line to `out`, `?` on its error.
macro_rules! outln {
    ($out:expr) => { $out.line(format_args!(""))? };
    ($out:expr, $($arg:tt)*) => { $out.line(format_args!($($arg)*))? };
}
pub(crate) use outln;

impl Out {
    pub fn new() -> Self {
        Out(std::io::stdout())
    }

    pub fn line(&mut self, args: fmt::Arguments<'_>) -> Result<(), CliError> {
        let mut lock = self.0.lock();
        lock.write_fmt(args)
            .and_then(|()| lock.write_all(b"\n"))
            .map_err(write_error)
    }

    pub fn bytes(&mut self, bytes: &[u8]) -> Result<(), CliError> {
        let mut lock = self.0.lock();
        lock.write_all(bytes)
            .and_then(|()| lock.flush())
            .map_err(write_error)
    }

    pub fn is_terminal(&self) -> bool {
        self.0.is_terminal()
    }
}

fn write_error(e: std::io::Error) -> CliError {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        CliError::BrokenPipe
    } else {
        CliError::Runtime(anyhow::Error::new(e).context("writing to stdout"))
    }
}

/// Ends the process the way a reader that closed its pipe expects: by
/// SIGPIPE, which shells report as status 141 and print nothing for. (Rust
/// ignores SIGPIPE so that a write fails instead; we put it back only now,
/// when nothing else is left to do.)
pub fn die_of_broken_pipe() -> ! {
    // SAFETY: restoring a signal's default disposition and raising it.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::raise(libc::SIGPIPE);
    }
    std::process::exit(141)
}

/// The progress bar on screen, if any: log lines are written around it.
static BAR: Mutex<Option<indicatif::ProgressBar>> = Mutex::new(None);

/// A progress bar on stderr, shown only when the user is watching (stdout
/// and stderr are terminals: pipes and logs stay clean), removed when
/// dropped.
pub struct Progress(indicatif::ProgressBar);

impl Progress {
    pub fn start(len: usize, what: &str) -> Self {
        let watching =
            len > 1 && std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
        let bar = if watching {
            indicatif::ProgressBar::new(len as u64)
        } else {
            indicatif::ProgressBar::hidden()
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template(&format!(
                "{{bar:30}} {{pos}}/{{len}} {what} {{msg}}"
            ))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.tick();
        if watching {
            *BAR.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar.clone());
        }
        Progress(bar)
    }

    pub fn step(&self, message: &str) {
        self.0.set_message(message.to_string());
        self.0.inc(1);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        *BAR.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.0.finish_and_clear();
    }
}

/// stderr for log lines: each line is written with the progress bar, if
/// one is shown, cleared first and drawn again after.
pub struct LogWriter;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogLine;
    fn make_writer(&'a self) -> LogLine {
        LogLine
    }
}

pub struct LogLine;

impl Write for LogLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let bar = BAR.lock().unwrap_or_else(|p| p.into_inner()).clone();
        match bar {
            Some(bar) => bar.suspend(|| std::io::stderr().write_all(buf))?,
            None => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
