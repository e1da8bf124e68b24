//! Command line: `poll` and `run --once`. One line per feed (stdout for
//! `poll`; stderr for `run --once`, whose stdout carries the digests of the
//! stdout transport), a progress bar while the user watches, and exit 1
//! when the poll itself failed (the store, a bug, pruning by `retention`)
//! or no feed could be read (every one that was fetched failed); one feed
//! failing among others is its line only. `run --once` also runs the daemon's daily full
//! check of the database when the last one is a day old, so that whoever
//! runs feedwatch from cron hears of damage: after the whole cycle, exit 1
//! with the way back.

use super::output::{Out, Progress, outln};
use super::{CliError, plural};
use crate::config::FeedConfig;
use crate::pipeline::{self, Context, FeedOutcome, FeedReport, Polled, Retry};
use crate::store::FullCheck;

/// The poll, pruning included (the pipeline prunes after every poll).
async fn poll_with_progress(ctx: &Context, feeds: &[FeedConfig]) -> Polled {
    let bar = Progress::start(feeds.len(), "feeds");
    pipeline::poll_feeds_with_progress(ctx, feeds, &|r| bar.step(&r.feed)).await
}

fn report_line(r: &FeedReport) -> String {
    match &r.outcome {
        FeedOutcome::Stored(s) => format!(
            "{}: {}, {} matched",
            r.feed,
            plural(s.new_items, "new item"),
            s.matched_items
        ),
        FeedOutcome::NotModified => format!("{}: not modified", r.feed),
        FeedOutcome::Failed(e) => format!("{}: FAILED: {e}", r.feed),
        FeedOutcome::Deferred(until) => format!(
            "{}: backing off until {}",
            r.feed,
            until.format("%Y-%m-%d %H:%M UTC")
        ),
        FeedOutcome::NotDue(until) => format!(
            "{}: not due until {} (the feed's own refresh interval)",
            r.feed,
            until.format("%Y-%m-%d %H:%M UTC")
        ),
        FeedOutcome::Skipped => format!("{}: skipped (shutting down)", r.feed),
    }
}

/// A failure of the poll itself (not of a feed) fails the command.
fn poll_failed(reports: &[FeedReport]) -> Result<(), CliError> {
    let failed: Vec<&str> = reports
        .iter()
        .filter(|r| r.is_poll_failure())
        .map(|r| r.feed.as_str())
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    Err(CliError::Runtime(anyhow::anyhow!(
        "the poll failed for {} ({}): see the errors above; nothing was lost, \
         their items are fetched again next time",
        plural(failed.len(), "feed"),
        failed.join(", ")
    )))
}

/// No feed could be read: at least one failed and none was read (stored
/// or not modified); a script or timer running `poll` must see it.
fn every_feed_failed(reports: &[FeedReport]) -> Result<(), CliError> {
    let failed = reports
        .iter()
        .filter(|r| matches!(r.outcome, FeedOutcome::Failed(_)))
        .count();
    let read = reports
        .iter()
        .any(|r| matches!(r.outcome, FeedOutcome::Stored(_) | FeedOutcome::NotModified));
    if failed == 0 || read {
        return Ok(());
    }
    Err(CliError::Runtime(anyhow::anyhow!(
        "no feed could be read: {} failed (see the lines above); check the \
         network, or `feedwatch status`",
        plural(failed, "feed")
    )))
}

pub async fn poll(ctx: &Context, feed: Option<&str>) -> Result<(), CliError> {
    let feeds: Vec<_> = match feed {
        Some(name) => vec![
            ctx.config
                .feed(name)
                .cloned()
                .ok_or_else(|| CliError::Usage(format!("no feed named '{name}'")))?,
        ],
        None => ctx.config.feeds.clone(),
    };
    let Polled {
        reports,
        pruned,
        writes,
    } = poll_with_progress(ctx, &feeds).await;
    let mut out = Out::new();
    for r in &reports {
        outln!(out, "{}", report_line(r));
    }
    poll_failed(&reports)?;
    every_feed_failed(&reports)?;
    pruned?;
    writes.map_err(|e| CliError::Runtime(e.into()))
}

pub async fn run_once(ctx: &Context) -> Result<(), CliError> {
    // Damage is said at the end, not a reason to skip the cycle: what can
    // be polled and delivered still is.
    let checked = pipeline::check_database_if_due(ctx).await;
    let Polled {
        reports,
        pruned,
        writes,
    } = poll_with_progress(ctx, &ctx.config.feeds).await;
    for r in &reports {
        eprintln!("{}", report_line(r));
    }
    // Exit 1 so that a timer or cron job shows each failure; nothing is lost.
    let mut failures: Vec<CliError> = poll_failed(&reports)
        .err()
        .or_else(|| every_feed_failed(&reports).err())
        .into_iter()
        .collect();
    let delivered = deliver_due(ctx).await;
    if let Err(e) = pruned {
        failures.push(e.into());
    }
    if let Err(e) = writes {
        failures.push(CliError::Runtime(e.into()));
    }
    let unreadable = match delivered {
        Ok(d) if d.failed > 0 => {
            failures.push(CliError::Runtime(anyhow::anyhow!(
                "{} could not be delivered; they stay queued and are retried (see `feedwatch status`)",
                plural(d.failed, "message")
            )));
            d.unreadable
        }
        Ok(d) => d.unreadable,
        Err(e) => {
            failures.push(CliError::Runtime(e.into()));
            0
        }
    };
    let damage = match checked {
        Ok(checked) => damage_said(checked.as_ref(), unreadable),
        Err(e) => Err(CliError::Runtime(anyhow::anyhow!(
            "cannot check the database: {e}"
        ))),
    };
    failures.extend(damage.err());
    match failures.len() {
        0 => Ok(()),
        1 => Err(failures.remove(0)),
        _ => Err(CliError::Runtime(anyhow::anyhow!(
            "{}",
            failures
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\nfeedwatch: ")
        ))),
    }
}

/// Composes the digests whose time has come (`pipeline::digests_due`: a
/// scheduled digest once per occurrence, however often cron runs this) and
/// retries what any digest has queued.
async fn deliver_due(ctx: &Context) -> Result<pipeline::DeliverReport, pipeline::DeliverError> {
    let due = pipeline::digests_due(ctx, chrono::Utc::now()).await?;
    let waiting: Vec<String> = ctx
        .config
        .digests
        .iter()
        .filter(|d| !due.iter().any(|u| u.name == d.name))
        .map(|d| d.name.clone())
        .collect();
    let (sent, failed) = if waiting.is_empty() {
        (0, 0)
    } else {
        pipeline::flush_outbox(ctx, Some(waiting), Retry::All).await?
    };
    let mut report = pipeline::deliver(ctx, &due, Retry::All).await?;
    report.sent += sent;
    report.failed += failed;
    Ok(report)
}

/// Exit 1, with the way back, when the full check found damage or a
/// delivery carried `unreadable` items whose text cannot be read.
pub(super) fn damage_said(checked: Option<&FullCheck>, unreadable: usize) -> Result<(), CliError> {
    let problem = match checked.and_then(FullCheck::problem) {
        Some(problem) => problem,
        None if unreadable > 0 => format!(
            "delivered, but {}",
            crate::store::unreadable_way_back(unreadable as i64)
        ),
        None => return Ok(()),
    };
    Err(CliError::Runtime(anyhow::anyhow!(
        "{problem} (`feedwatch status` says so too)"
    )))
}
