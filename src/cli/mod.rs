//! Command line: the commands of docs/reference.md, "Commands", one file per group,
//! each only turning what `pipeline` returns into lines for a person or a
//! script. All terminal output lives here: stdout through `output::Out`
//! (a closed pipe ends the command quietly), logs through
//! `logging`. Errors carry their exit code: 2 for bad usage or an invalid
//! config, 1 for a runtime failure.

mod backup;
mod check;
mod digest;
mod explain;
pub mod logging;
mod manual;
mod monitor;
mod opml;
mod output;
mod poll;
mod search;
mod status;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config, ConfigErrors};
use crate::pipeline::{ConfigSource, Context};

pub use output::die_of_broken_pipe;

#[derive(Debug, Parser)]
#[command(
    name = "feedwatch",
    version,
    about = "Watches news feeds and emails digests of the items that match your rules"
)]
pub struct Cli {
    /// Config file [default: $FEEDWATCH_CONFIG, else /etc/feedwatch/feedwatch.toml]
    #[arg(short, long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Where the database is, over the config's state_dir [default: state_dir,
    /// else $STATE_DIRECTORY, else /var/lib/feedwatch, the service's own]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: poll and send digests on their schedules until SIGTERM.
    Run {
        /// One full cycle (poll every feed, send every pending digest), then exit.
        #[arg(long)]
        once: bool,
    },
    /// Validate the config and every rule, schedule, address and URL.
    Check {
        /// Also fetch every feed once and say what it is (uses the network,
        /// changes no state).
        #[arg(long)]
        probe: bool,
    },
    /// Poll now (all feeds or one), store and match; sends no mail.
    Poll {
        /// Poll only the feed with this name in the config.
        #[arg(long, value_name = "NAME")]
        feed: Option<String>,
    },
    /// Send the pending matches of one digest (or all) now.
    Digest {
        /// The digest to send, by its name in the config [default: every digest]
        name: Option<String>,
        /// Print the complete message(s) and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Say why one item did or did not alert: eligibility, each rule and
    /// the clause that decided it, its digest and message.
    Explain {
        /// An item id from `search --json`, or the item's link.
        item: String,
    },
    /// Search everything stored with a query in rule syntax, newest first
    /// (exit 1 when nothing matches, like grep).
    Search {
        /// A query in rule syntax, e.g. 'iran AND drone*' (docs/reference.md, "Rule syntax")
        #[arg(required_unless_present = "rule", conflicts_with = "rule")]
        query: Option<String>,
        /// Search with a configured rule's query and feed scope.
        #[arg(long, value_name = "NAME")]
        rule: Option<String>,
        /// Only items newer than this (e.g. 30d).
        #[arg(long, value_name = "DURATION")]
        since: Option<String>,
        /// Show at most this many items.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Print one JSON array of items instead, for scripts.
        #[arg(long)]
        json: bool,
        /// Print what the query or rule finds after folding (`iran` also
        /// finds "Iranian", `Іран` "іранські"), and why; search nothing.
        #[arg(long, conflicts_with = "json")]
        explain: bool,
    },
    /// Feeds, pending matches and next send time per digest, and the outbox.
    Status {
        /// Print JSON instead, for scripts (times in RFC 3339, UTC).
        #[arg(long, conflicts_with_all = ["check", "prometheus"])]
        json: bool,
        /// One line and a Nagios exit code: 0 OK, 1 warning, 2 critical.
        #[arg(long, conflicts_with = "prometheus")]
        check: bool,
        /// The Prometheus text exposition format (also for node-exporter's
        /// textfile collector).
        #[arg(long)]
        prometheus: bool,
        /// Every column in full, however wide (on a terminal the table is
        /// cut to its width; piped, it is always in full).
        #[arg(long, conflicts_with_all = ["json", "check", "prometheus"])]
        wide: bool,
    },
    /// Copy the database to FILE, consistently, while the daemon runs
    /// (SQLite's online backup; FILE must not exist).
    Backup {
        /// Where the copy goes (made readable by its owner only).
        file: PathBuf,
    },
    /// Put a backup made by `feedwatch backup` back as the database, keeping
    /// the database file and its owner (stop the daemon first).
    Restore {
        /// The backup to put back.
        file: PathBuf,
    },
    /// Print the shell completion script for SHELL (needs no config).
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (needs no config); with DIR, write it and one page
    /// per command there (feedwatch.1, feedwatch-check.1…).
    Man {
        /// Where to write the pages, e.g. /usr/local/share/man/man1.
        dir: Option<PathBuf>,
    },
    /// Import feeds from OPML (prints [[feeds]] TOML) or export them as OPML.
    Opml {
        #[command(subcommand)]
        action: OpmlAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum OpmlAction {
    /// Print the feeds of an OPML file as [[feeds]] TOML to paste into the
    /// config (needs no config).
    Import {
        /// The OPML file, as another feed reader exports it.
        file: PathBuf,
    },
    /// Print the configured feeds as OPML.
    Export,
}

/// A command's failure, with its exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    /// Each problem is one `file:line:column: message` line.
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    /// The error and its causes on one line (anyhow's `{:#}`). No error of
    /// ours both says its cause and exposes it as `source()`
    /// (docs/DESIGN.md §5), so each cause is said once.
    #[error("{0:#}")]
    Runtime(anyhow::Error),
    /// A search that found nothing (exit 1, like grep).
    #[error("{0}")]
    NothingFound(String),
    /// stdout was closed by its reader (`… | head`).
    #[error("broken pipe")]
    BrokenPipe,
    /// Exit with this code, having said all there is on stdout
    /// (`status --check`).
    #[error("exit {0}")]
    Exit(i32),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) | CliError::Config(_) => 2,
            CliError::Runtime(_) | CliError::NothingFound(_) | CliError::BrokenPipe => 1,
            CliError::Exit(code) => *code,
        }
    }
}

impl From<crate::store::StoreError> for CliError {
    fn from(e: crate::store::StoreError) -> Self {
        CliError::Runtime(e.into())
    }
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        CliError::Runtime(e)
    }
}

/// The config file: `--config`, else `$FEEDWATCH_CONFIG`, else the default path.
pub fn config_path(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| std::env::var_os("FEEDWATCH_CONFIG").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(config::DEFAULT_PATH))
}

pub async fn run(cli: Cli) -> Result<(), CliError> {
    // Importing needs no config (it makes one), nor do the manuals.
    match &cli.command {
        Command::Opml {
            action: OpmlAction::Import { file },
        } => return opml::import(file),
        Command::Completions { shell } => return manual::completions(*shell),
        Command::Man { dir } => return manual::man(dir.as_deref()),
        _ => {}
    }
    let source = ConfigSource {
        path: config_path(cli.config),
        state_dir: cli.state_dir,
    };
    let config = source.load()?;
    match cli.command {
        Command::Check { probe } => check::check(&config, probe).await,
        Command::Run { once: false } => Ok(crate::daemon::run(source, config).await?),
        Command::Run { once: true } => poll::run_once(&context(config)?).await,
        Command::Poll { feed } => {
            // Asked for by hand: fetch even the feeds that are backing off.
            let mut ctx = context(config)?;
            ctx.respect_backoff = false;
            poll::poll(&ctx, feed.as_deref()).await
        }
        Command::Digest { name, dry_run } => {
            digest::digest(&context(config)?, name.as_deref(), dry_run).await
        }
        Command::Explain { item } => explain::explain(&config, &item),
        Command::Search {
            query,
            rule,
            since,
            limit,
            json,
            explain,
        } => {
            let what = search::What {
                query: query.as_deref(),
                rule: rule.as_deref(),
                since: since.as_deref(),
                limit,
            };
            if explain {
                search::explain(&config, &what)
            } else {
                search::search(&config, &what, json)
            }
        }
        Command::Status {
            json,
            check,
            prometheus,
            wide,
        } => {
            let form = match (json, check, prometheus) {
                (true, _, _) => status::Form::Json,
                (_, true, _) => status::Form::Check,
                (_, _, true) => status::Form::Prometheus,
                _ if wide => status::Form::Table { columns: None },
                _ => status::Form::Table {
                    columns: status::terminal_columns(),
                },
            };
            status::status(&config, form)
        }
        Command::Backup { file } => backup::backup(&config, &file),
        Command::Restore { file } => backup::restore(&config, &file),
        Command::Opml {
            action: OpmlAction::Import { file },
        } => opml::import(&file),
        Command::Completions { shell } => manual::completions(shell),
        Command::Man { dir } => manual::man(dir.as_deref()),
        Command::Opml {
            action: OpmlAction::Export,
        } => opml::export(&config),
    }
}

/// The pipeline for a one-shot command: it stops at Ctrl-C like the daemon
/// at SIGTERM (what is in flight is abandoned, nothing is half-written).
fn context(config: Config) -> Result<Context, CliError> {
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.cancel();
        }
    });
    Context::open(config, shutdown, &mut crate::store::log_progress)
        .map_err(|e| CliError::Runtime(e.into()))
}

/// "1 item", "2 items"; "1 match", "2 matches".
fn plural(n: usize, what: &str) -> String {
    match (n, what.ends_with("ch")) {
        (1, _) => format!("1 {what}"),
        (_, true) => format!("{n} {what}es"),
        _ => format!("{n} {what}s"),
    }
}

/// Human times carry their zone: the config's, with its abbreviation.
fn local_time(t: chrono::DateTime<chrono::Utc>, tz: chrono_tz::Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string()
}

/// Times for scripts: RFC 3339 in UTC, to the second.
fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(CliError::Usage("x".into()).exit_code(), 2);
        assert_eq!(CliError::Runtime(anyhow::anyhow!("x")).exit_code(), 1);
        assert_eq!(CliError::NothingFound("x".into()).exit_code(), 1);
    }

    #[test]
    fn an_error_chain_says_each_cause_once() {
        let e = anyhow::anyhow!("disk full").context("storing");
        assert_eq!(CliError::from(e).to_string(), "storing: disk full");
        // Our errors that name a cause keep it typed but not as a source:
        // the chain has it once.
        let io = std::io::Error::from(std::io::ErrorKind::ReadOnlyFilesystem);
        let e = crate::store::StoreError::StateDir {
            path: "/x".into(),
            error: io,
        };
        let setup = crate::pipeline::SetupError::from(e);
        let shown = CliError::from(anyhow::Error::new(setup)).to_string();
        assert_eq!(shown.matches("read-only").count(), 1, "{shown}");
        assert!(
            shown.starts_with("opening the database: cannot create the state directory /x: "),
            "{shown}"
        );
    }

    #[test]
    fn times_for_people_carry_a_zone_and_for_scripts_are_utc() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-12-01T05:00:00.250Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(
            local_time(t, chrono_tz::Europe::Kyiv),
            "2026-12-01 07:00 EET"
        );
        assert_eq!(rfc3339(t), "2026-12-01T05:00:00Z");
    }
}
