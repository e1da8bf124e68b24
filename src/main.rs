//! The `feedwatch` binary: parses the command line, sets up logging to stderr
//! (level from `RUST_LOG`), runs the command and maps its error to the exit
//! codes of docs/reference.md, "Commands" (0 success, 1 runtime failure, 2 bad usage
//! or config).

use clap::Parser;
use feedwatch::cli::{self, Cli, CliError, Command};

fn main() {
    feedwatch::daemon::limit_malloc_arenas();
    let cli = Cli::parse();
    // The daemon logs its lifecycle; one-shot commands only warnings, so that
    // their own output stays readable.
    cli::logging::init(matches!(cli.command, Command::Run { once: false }));
    cli::logging::log_panics();
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
    // Not a plain drop, which waits for every blocking task: an article
    // page still parsing (bounded by `article_parse_time`) must not hold
    // up a stop that systemd asked for.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => {}
        Err(CliError::BrokenPipe) => cli::die_of_broken_pipe(),
        Err(CliError::Exit(code)) => std::process::exit(code),
        // One `file:line:column: message` line per problem, as editors and
        // compilers print them.
        Err(e @ CliError::Config(_)) => {
            cli::logging::eprint_at(cli::logging::ERR, &e.to_string());
            std::process::exit(e.exit_code());
        }
        Err(e) => {
            cli::logging::eprint_at(cli::logging::ERR, &format!("feedwatch: {e}"));
            std::process::exit(e.exit_code());
        }
    }
}
