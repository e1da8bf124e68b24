//! Command line: `poll` and `run --once`. One line per feed (stdout for
//! `poll`; stderr for `run --once`, whose stdout carries the digests of the
//! stdout transport), a progress bar while the user watches, and exit 1
//! when the poll itself failed (the store, a bug, pruning by `retention`)
//! rather than a feed.

use super::output::{Out, Progress, outln};
use super::{CliError, plural};
use crate::config::FeedConfig;
use crate::pipeline::{self, Context, FeedOutcome, FeedReport, Polled, Retry};

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
    let Polled { reports, pruned } = poll_with_progress(ctx, &feeds).await;
    let mut out = Out::new();
    for r in &reports {
        outln!(out, "{}", report_line(r));
    }
    poll_failed(&reports)?;
    pruned?;
    Ok(())
}

pub async fn run_once(ctx: &Context) -> Result<(), CliError> {
    let Polled { reports, pruned } = poll_with_progress(ctx, &ctx.config.feeds).await;
    for r in &reports {
        eprintln!("{}", report_line(r));
    }
    let delivered = pipeline::deliver(ctx, &ctx.config.digests, Retry::All).await;
    poll_failed(&reports)?;
    pruned?;
    let failed = delivered.map_err(|e| CliError::Runtime(e.into()))?.failed;
    if failed > 0 {
        // Exit 1 so that a timer or cron job shows the failure; nothing is lost.
        return Err(CliError::Runtime(anyhow::anyhow!(
            "{} could not be delivered; they stay queued and are retried (see `feedwatch status`)",
            plural(failed, "message")
        )));
    }
    Ok(())
}
