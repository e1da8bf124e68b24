//! Command line: one small handler per command (README, "Commands"). All terminal
//! printing lives here (and in the stdout mail transport, whose output is the
//! message itself). Errors carry their exit code: 2 for bad usage or an
//! invalid config, 1 for a runtime failure. Uses every module below it.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context as _;
use chrono::Utc;
use clap::{Parser, Subcommand};

use crate::config::{self, Config, ConfigErrors};
use crate::model::{MARK_END, MARK_START};
use crate::pipeline::{self, Context, FeedOutcome};
use crate::rules;
use crate::store::Store;

#[derive(Debug, Parser)]
#[command(
    name = "feedwatch",
    version,
    about = "Watches news feeds and emails digests of the items that match your rules"
)]
pub struct Cli {
    /// Config file [default: $FEEDWATCH_CONFIG, else /etc/feedwatch/feedwatch.toml]
    #[arg(short, long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
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
        #[arg(long, value_name = "NAME")]
        feed: Option<String>,
    },
    /// Send the pending matches of one digest (or all) now.
    Digest {
        name: Option<String>,
        /// Print the complete message(s) and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Search everything stored with a query in rule syntax, newest first.
    Search {
        #[arg(required_unless_present = "rule", conflicts_with = "rule")]
        query: Option<String>,
        /// Use a configured rule's query.
        #[arg(long, value_name = "NAME")]
        rule: Option<String>,
        /// Only items newer than this (e.g. 30d).
        #[arg(long, value_name = "DURATION")]
        since: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Feeds, pending matches per digest and the outbox.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Import feeds from OPML (prints [[feeds]] TOML) or export them as OPML.
    Opml {
        #[command(subcommand)]
        action: OpmlAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum OpmlAction {
    /// Print the feeds of an OPML file as [[feeds]] TOML to paste into the config.
    Import { file: PathBuf },
    /// Print the configured feeds as OPML.
    Export,
}

/// A command's failure, with its exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    #[error("{0:#}")]
    Runtime(#[from] anyhow::Error),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) | CliError::Config(_) => 2,
            CliError::Runtime(_) => 1,
        }
    }
}

impl From<crate::store::StoreError> for CliError {
    fn from(e: crate::store::StoreError) -> Self {
        CliError::Runtime(e.into())
    }
}

/// The config file: `--config`, else `$FEEDWATCH_CONFIG`, else the default path.
pub fn config_path(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| std::env::var_os("FEEDWATCH_CONFIG").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(config::DEFAULT_PATH))
}

/// Loads the config and checks every compiled rule against SQLite's FTS5.
pub fn load_config(path: &std::path::Path) -> Result<Config, CliError> {
    let config = config::load(path)?;
    let scratch = Store::open_in_memory()?;
    let errors: Vec<String> = config
        .rules
        .iter()
        .filter_map(|r| {
            scratch
                .check_query(&r.name, &r.fts_query)
                .err()
                .map(|e| e.to_string())
        })
        .collect();
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(CliError::Usage(format!(
            "{}: {}",
            path.display(),
            errors.join("\n")
        )))
    }
}

pub async fn run(cli: Cli) -> Result<(), CliError> {
    // Importing needs no config: it makes one.
    if let Command::Opml {
        action: OpmlAction::Import { file },
    } = &cli.command
    {
        return opml_import(file);
    }
    let path = config_path(cli.config);
    let config = load_config(&path)?;
    match cli.command {
        Command::Check { probe } => {
            check(&path, &config)?;
            if probe {
                probe_feeds(&config).await
            } else {
                Ok(())
            }
        }
        Command::Run { once: false } => Ok(crate::daemon::run(path, config).await?),
        Command::Run { once: true } => run_once(&context(config)?).await,
        Command::Poll { feed } => {
            // Asked for by hand: fetch even the feeds that are backing off.
            let mut ctx = context(config)?;
            ctx.respect_backoff = false;
            poll(&ctx, feed.as_deref()).await
        }
        Command::Digest { name, dry_run } => {
            digest(&context(config)?, name.as_deref(), dry_run).await
        }
        Command::Search {
            query,
            rule,
            since,
            limit,
            json,
        } => {
            search(
                &config,
                query.as_deref(),
                rule.as_deref(),
                since.as_deref(),
                limit,
                json,
            )
            .await
        }
        Command::Status { json } => status(&config, json).await,
        Command::Opml {
            action: OpmlAction::Import { file },
        } => opml_import(&file),
        Command::Opml {
            action: OpmlAction::Export,
        } => {
            let feeds: Vec<crate::opml::OpmlFeed> = config
                .feeds
                .iter()
                .map(|f| crate::opml::OpmlFeed {
                    name: f.name.clone(),
                    url: f.url.to_string(),
                    tags: f.tags.clone(),
                })
                .collect();
            print!("{}", crate::opml::export(&feeds));
            Ok(())
        }
    }
}

fn context(config: Config) -> Result<Context, CliError> {
    Context::open(config).map_err(|e| CliError::Runtime(e.into()))
}

/// `check --probe`: fetches each feed once, without validators or state, and
/// says what it found: a feed and its size, a permanent redirect, a web page
/// and the feed it advertises, or the error. Exit 1 if any feed fails.
async fn probe_feeds(config: &Config) -> Result<(), CliError> {
    use crate::fetch::{FetchOutcome, Fetcher};
    let fetcher = Fetcher::new(config.poll.timeout, config.poll.max_body)
        .map_err(|e| CliError::Runtime(e.into()))?;
    let max = config.poll.max_items;
    let mut failed = 0;
    for feed in &config.feeds {
        let line = match fetcher.fetch(&feed.url, &Default::default()).await {
            Ok(FetchOutcome::Fetched(f)) => {
                let moved = f
                    .moved_to
                    .as_ref()
                    .map(|u| format!(", moved permanently to {u} (update the config)"))
                    .unwrap_or_default();
                match crate::parse::parse_feed_as(
                    &f.body,
                    f.content_type.as_deref(),
                    &f.final_url,
                    max,
                ) {
                    Ok(p) => format!(
                        "{}: OK, {}{moved}",
                        feed.name,
                        plural(p.items.len(), "item")
                    ),
                    Err(e) => match crate::parse::discover(&f.body, &f.final_url) {
                        Some(u) => format!(
                            "{}: a web page; the feed it advertises is {u} (put that URL in the config)",
                            feed.name
                        ),
                        None => {
                            failed += 1;
                            format!("{}: FAILED: {e}", feed.name)
                        }
                    },
                }
            }
            Ok(FetchOutcome::NotModified) => format!("{}: OK (not modified)", feed.name),
            Err(e) => {
                failed += 1;
                format!("{}: FAILED: {e}", feed.name)
            }
        };
        println!("{line}");
    }
    if failed > 0 {
        return Err(CliError::Runtime(anyhow::anyhow!(
            "{failed} feed(s) failed the probe"
        )));
    }
    Ok(())
}

fn opml_import(file: &std::path::Path) -> Result<(), CliError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", file.display())))?;
    let feeds = crate::opml::parse(&text)
        .map_err(|e| CliError::Usage(format!("{}: {e}", file.display())))?;
    println!("# {} feeds imported from {}", feeds.len(), file.display());
    print!("{}", crate::opml::to_toml(&feeds));
    Ok(())
}

/// `check`: the config is valid (or `load_config` said why not); an SMTP
/// user also needs a password, and we say where it comes from (never what).
fn check(path: &std::path::Path, config: &Config) -> Result<(), CliError> {
    if let config::Transport::Smtp(smtp) = &config.email.transport
        && let Some(user) = &smtp.user
    {
        match crate::mail::password(smtp.password_file.as_deref()) {
            Ok(Some((_, source))) => println!(
                "smtp: {user}@{}:{}, password from {source}",
                smtp.host, smtp.port
            ),
            Ok(None) => {
                return Err(CliError::Usage(format!(
                    "{}: the smtp URL names user '{user}' but no password was found: set \
                         $FEEDWATCH_SMTP_PASSWORD, password_file, or the systemd credential smtp-password",
                    path.display()
                )));
            }
            Err(e) => return Err(CliError::Usage(format!("{}: {e}", path.display()))),
        }
    }
    println!(
        "{}: OK ({} feeds, {} rules, {} digests)",
        path.display(),
        config.feeds.len(),
        config.rules.len(),
        config.digests.len()
    );
    Ok(())
}

/// Polls with a progress bar on stderr when the user is watching (README, "Commands":
/// quiet when stdout is not a terminal), so logs and pipes stay clean.
async fn poll_with_progress(
    ctx: &Context,
    feeds: &[config::FeedConfig],
) -> Vec<pipeline::FeedReport> {
    let bar =
        if feeds.len() > 1 && std::io::stdout().is_terminal() && std::io::stderr().is_terminal() {
            indicatif::ProgressBar::new(feeds.len() as u64)
        } else {
            indicatif::ProgressBar::hidden()
        };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} feeds {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.tick();
    let reports = pipeline::poll_feeds_with_progress(ctx, feeds, &|r| {
        bar.set_message(r.feed.clone());
        bar.inc(1);
    })
    .await;
    bar.finish_and_clear();
    reports
}

fn report_line(r: &pipeline::FeedReport) -> String {
    match &r.outcome {
        FeedOutcome::Stored(s) => format!(
            "{}: {}, {}",
            r.feed,
            plural(s.new_items, "new item"),
            plural(s.matches, "match")
        ),
        FeedOutcome::NotModified => format!("{}: not modified", r.feed),
        FeedOutcome::Failed(e) => format!("{}: FAILED: {e}", r.feed),
        FeedOutcome::Deferred(until) => format!(
            "{}: backing off until {}",
            r.feed,
            until.format("%Y-%m-%d %H:%M UTC")
        ),
        FeedOutcome::Skipped => format!("{}: skipped (shutting down)", r.feed),
    }
}

async fn run_once(ctx: &Context) -> Result<(), CliError> {
    // stdout carries the digests of the stdout transport; summaries go to stderr.
    for r in poll_with_progress(ctx, &ctx.config.feeds).await {
        eprintln!("{}", report_line(&r));
    }
    let failed = pipeline::deliver(ctx, &ctx.config.digests, true)
        .await?
        .failed;
    pipeline::prune(ctx).await?;
    if failed > 0 {
        // Exit 1 so that a timer or cron job shows the failure; nothing is lost.
        return Err(CliError::Runtime(anyhow::anyhow!(
            "{failed} message(s) could not be delivered; they stay queued and are retried (see `feedwatch status`)"
        )));
    }
    Ok(())
}

async fn poll(ctx: &Context, feed: Option<&str>) -> Result<(), CliError> {
    let feeds: Vec<_> = match feed {
        Some(name) => vec![
            ctx.config
                .feed(name)
                .cloned()
                .ok_or_else(|| CliError::Usage(format!("no feed named '{name}'")))?,
        ],
        None => ctx.config.feeds.clone(),
    };
    let reports = poll_with_progress(ctx, &feeds).await;
    let mut out = std::io::stdout().lock();
    for r in &reports {
        let _ = writeln!(out, "{}", report_line(r));
    }
    Ok(())
}

async fn digest(ctx: &Context, name: Option<&str>, dry_run: bool) -> Result<(), CliError> {
    let digests: Vec<_> = match name {
        Some(n) => vec![
            ctx.config
                .digest(n)
                .cloned()
                .ok_or_else(|| CliError::Usage(format!("no digest named '{n}'")))?,
        ],
        None => ctx.config.digests.clone(),
    };
    if dry_run {
        let mut count = 0;
        for d in &digests {
            for msg in pipeline::dry_run(ctx, d).await? {
                crate::mail::print_message(&msg).context("writing to stdout")?;
                count += 1;
            }
        }
        if count == 0 {
            eprintln!("no pending matches");
        }
        return Ok(());
    }
    let r = pipeline::deliver(ctx, &digests, true).await?;
    let failed = r.failed;
    eprintln!(
        "{} message(s) queued, {} sent, {} failed",
        r.queued, r.sent, r.failed
    );
    if failed > 0 {
        return Err(CliError::Runtime(anyhow::anyhow!(
            "{failed} message(s) not delivered; they stay queued and are retried"
        )));
    }
    Ok(())
}

fn plural(n: usize, what: &str) -> String {
    match (n, what.ends_with("ch")) {
        (1, _) => format!("1 {what}"),
        (_, true) => format!("{n} {what}es"),
        _ => format!("{n} {what}s"),
    }
}

/// Snippet markers as bold on a terminal, `*word*` when piped.
fn show_marks(snippet: &str, terminal: bool) -> String {
    let (on, off) = if terminal {
        ("\x1b[1;33m", "\x1b[0m")
    } else {
        ("*", "*")
    };
    snippet.replace(MARK_START, on).replace(MARK_END, off)
}

async fn search(
    config: &Config,
    query: Option<&str>,
    rule: Option<&str>,
    since: Option<&str>,
    limit: usize,
    json: bool,
) -> Result<(), CliError> {
    // A rule is searched with its feed scope, so the answer is what it
    // would have matched live.
    let (fts, scope) = match (query, rule) {
        (_, Some(name)) => {
            let rule = config
                .rules
                .iter()
                .find(|r| r.name == name)
                .ok_or_else(|| {
                    let names: Vec<&str> = config.rules.iter().map(|r| r.name.as_str()).collect();
                    CliError::Usage(format!(
                        "no rule named '{name}'{}",
                        rules::suggest(name, &names)
                    ))
                })?;
            (rule.fts_query.clone(), rule.feeds.clone())
        }
        (Some(q), None) => {
            // Term sets from the config apply to ad-hoc queries too.
            let fts = rules::compile_query(q, &config.terms)
                .map_err(|e| CliError::Usage(format!("query {e}")))?;
            (fts, None)
        }
        (None, None) => return Err(CliError::Usage("give a query or --rule NAME".into())),
    };
    let since = since
        .map(|s| config::values::parse_duration(s).map_err(CliError::Usage))
        .transpose()?
        .map(|d| Utc::now() - chrono::Duration::from_std(d).unwrap_or_default());
    let store = Store::open_dir(&config.state_dir)?;
    let hits = store.search(&fts, scope.as_deref(), since, limit)?;
    let mut out = std::io::stdout().lock();
    if json {
        let rows: Vec<_> = hits
            .iter()
            .map(|h| {
                serde_json::json!({
                    "published": h.published.map(|d| d.to_rfc3339()),
                    "feed": h.feed, "title": h.title, "link": h.link,
                    "snippet": show_marks(&h.snippet, false),
                })
            })
            .collect();
        let _ = writeln!(out, "{}", serde_json::Value::Array(rows));
        return Ok(());
    }
    let terminal = std::io::stdout().is_terminal();
    for h in &hits {
        let date = h.published.map(|d| {
            d.with_timezone(&config.timezone)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        });
        let _ = writeln!(
            out,
            "{}  {}  {}",
            date.as_deref().unwrap_or("undated"),
            h.feed,
            h.title
        );
        if let Some(link) = &h.link {
            let _ = writeln!(out, "    {link}");
        }
        let _ = writeln!(out, "    {}\n", show_marks(&h.snippet, terminal));
    }
    if hits.is_empty() {
        eprintln!("no stored item matches");
    }
    Ok(())
}

async fn status(config: &Config, json: bool) -> Result<(), CliError> {
    let store = Store::open_dir(&config.state_dir)?;
    let feeds = store.feed_status()?;
    let pending = store.pending_counts()?;
    let outbox = store.outbox_status()?;
    let errors = store.outbox_errors()?;
    let fmt_time = |t: Option<chrono::DateTime<Utc>>| {
        t.map(|d| {
            d.with_timezone(&config.timezone)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|| "never".into())
    };
    // The next scheduled poll at which the feed is not backing off.
    let next_poll = |name: &str| {
        let schedule = config
            .feed(name)
            .and_then(|f| f.schedule.as_ref())
            .unwrap_or(&config.poll.schedule);
        let not_before = feeds
            .iter()
            .find(|f| f.name == name)
            .and_then(|f| f.next_fetch)
            .unwrap_or_else(Utc::now);
        schedule.next_after(
            config.timezone,
            not_before.max(Utc::now()) - chrono::Duration::seconds(1),
        )
    };
    let mut out = std::io::stdout().lock();
    if json {
        let v = serde_json::json!({
            "feeds": feeds.iter().map(|f| serde_json::json!({
                "name": f.name, "url": f.url, "last_fetch": f.last_fetch.map(|d| d.to_rfc3339()),
                "http_status": f.last_status, "items": f.items, "consecutive_errors": f.consecutive_errors,
                "next_poll": next_poll(&f.name).map(|d| d.to_rfc3339()), "last_error": f.last_error,
                "moved_to": f.moved_to,
            })).collect::<Vec<_>>(),
            "pending": pending.iter().map(|(d, n)| serde_json::json!({"digest": d, "matches": n})).collect::<Vec<_>>(),
            "outbox": {"queued": outbox.queued, "failed": outbox.failed, "sent": outbox.sent},
        });
        let _ = writeln!(out, "{v:#}");
        return Ok(());
    }
    let _ = writeln!(
        out,
        "{:<24} {:<16} {:>6} {:>7} {:>6} {:<16} LAST ERROR",
        "FEED", "LAST FETCH", "HTTP", "ITEMS", "ERRORS", "NEXT POLL"
    );
    for f in &feeds {
        let _ = writeln!(
            out,
            "{:<24} {:<16} {:>6} {:>7} {:>6} {:<16} {}",
            f.name,
            fmt_time(f.last_fetch),
            f.last_status.map_or("-".into(), |s| s.to_string()),
            f.items,
            f.consecutive_errors,
            fmt_time(next_poll(&f.name)),
            f.last_error
                .clone()
                .or_else(|| f
                    .moved_to
                    .as_ref()
                    .map(|to| format!("moved permanently to {to}")))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(out, "\nPENDING MATCHES");
    for d in &config.digests {
        let n = pending
            .iter()
            .find(|(name, _)| *name == d.name)
            .map_or(0, |(_, n)| *n);
        let _ = writeln!(out, "  {:<22} {n}", d.name);
    }
    let _ = writeln!(
        out,
        "\nOUTBOX  queued {}  failed {}  sent {}",
        outbox.queued, outbox.failed, outbox.sent
    );
    for (digest, attempts, error) in &errors {
        let _ = writeln!(
            out,
            "  {digest}: {attempts} attempt(s), last error: {error}"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_bold_on_a_terminal_and_plain_when_piped() {
        let s = format!("the {MARK_START}Iranian{MARK_END} drones");
        assert_eq!(show_marks(&s, false), "the *Iranian* drones");
        assert_eq!(show_marks(&s, true), "the \x1b[1;33mIranian\x1b[0m drones");
    }

    #[test]
    fn exit_codes() {
        assert_eq!(CliError::Usage("x".into()).exit_code(), 2);
        assert_eq!(CliError::Runtime(anyhow::anyhow!("x")).exit_code(), 1);
    }
}
