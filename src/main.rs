//! The `feedwatch` binary: parses the command line, sets up logging to stderr
//! (level from `RUST_LOG`), runs the command and maps its error to the exit
//! codes of README, "Commands" (0 success, 1 runtime failure, 2 bad usage or config).

use clap::Parser;
use feedwatch::cli::{self, Cli, Command};

fn main() {
    feedwatch::daemon::limit_malloc_arenas();
    let cli = Cli::parse();
    // The daemon logs its lifecycle; one-shot commands only warnings, so that
    // their own output stays readable.
    let default_level = match cli.command {
        Command::Run { once: false } => "info",
        _ => "warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    // Under systemd (JOURNAL_STREAM set) journald stamps each line itself.
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(!journald && std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if journald {
        builder.without_time().with_target(false).init();
    } else {
        builder.init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("feedwatch: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(cli::run(cli));
    if let Err(e) = result {
        eprintln!("feedwatch: {e}");
        std::process::exit(e.exit_code());
    }
}
