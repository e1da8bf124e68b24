//! Pipeline, one feed of a poll: fetch → parse (→ the feed a web page
//! advertises) → store through the poll's writer, politely: backoff,
//! minimum intervals, adopted redirects, and one deadline for the whole
//! fetch. Each step is a function named for what it does; a failure is a
//! typed `FeedError`, and the writer records it with its backoff in the
//! same transaction as the rest of the poll.

use chrono::{DateTime, Utc};
use tokio::time::Instant;
use url::Url;

use super::writer::{Parsed, WriteError, Writer};
use super::{Context, FeedOutcome, FeedReport};
use crate::config::FeedConfig;
use crate::fetch::{FetchError, FetchOutcome, Fetched, Fetcher};
use crate::model::IngestReport;
use crate::parse::{self, ParseError, ParsedFeed};
use crate::store::PollState;

/// Why one feed of a poll failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FeedError {
    /// Fetching failed: the network, an HTTP status, the size, the time.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The body is neither a feed nor a page advertising one.
    #[error("{error}")]
    Parse { status: u16, error: ParseError },
    /// The items could not be stored: a failure of the store (the disk,
    /// the database), not of the feed, so the feed does not back off and
    /// the poll fails.
    /// Says its cause, and keeps it typed rather than as `source()`
    /// (docs/DESIGN.md §5).
    #[error("cannot store the feed's items: {0}")]
    Store(WriteError),
    /// The feed's task panicked: a bug in feedwatch, reported as one.
    #[error("internal error, please report it: {0}")]
    Panicked(String),
}

impl FeedError {
    /// The HTTP status to record, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            FeedError::Fetch(e) => e.status(),
            FeedError::Parse { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// How long the server asked us to stay away.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            FeedError::Fetch(FetchError::Status { retry_after, .. }) => *retry_after,
            _ => None,
        }
    }

    /// Whether this is the feed's failure (recorded, backed off) rather than
    /// feedwatch's own (the store, a bug), which fails the poll instead.
    pub fn is_the_feeds(&self) -> bool {
        matches!(self, FeedError::Fetch(_) | FeedError::Parse { .. })
    }
}

/// Polls one feed. Never fails: a failure is returned as
/// `FeedOutcome::Failed` and, when it is the feed's, recorded with its
/// backoff by the writer.
pub(super) async fn poll_feed(
    ctx: &Context,
    writer: &Writer,
    feed: &FeedConfig,
    state: PollState,
    slots: Slots,
) -> FeedReport {
    let outcome = match poll(ctx, writer, feed, state, slots).await {
        Ok(o) => o,
        Err(error) => {
            if error.is_the_feeds() {
                // Said once, by whoever polled: the daemon's log line, or
                // the command's FAILED line (`cli/poll.rs`).
                writer.failed(feed, &error);
            } else {
                tracing::error!(feed = %feed.name, error = %error, "the feed could not be polled");
            }
            FeedOutcome::Failed(error)
        }
    };
    FeedReport {
        feed: feed.name.clone(),
        outcome,
    }
}

async fn poll(
    ctx: &Context,
    writer: &Writer,
    feed: &FeedConfig,
    state: PollState,
    slots: Slots,
) -> Result<FeedOutcome, FeedError> {
    if let Some(until) = backing_off(ctx, &state) {
        return Ok(if state.failing {
            FeedOutcome::Deferred(until)
        } else {
            FeedOutcome::NotDue(until)
        });
    }
    let adopted = adopted_url(&state);
    let deadline = Instant::now() + ctx.config.poll.timeout;
    let max_items = ctx.config.poll.max_items;
    let fetch = fetch_and_parse(
        &ctx.fetcher,
        max_items,
        &feed.url,
        adopted.as_ref(),
        &state.validators,
        deadline,
    );
    match fetch.await? {
        Fetch::NotModified => {
            writer.not_modified(feed.name.clone(), feed.url.to_string());
            Ok(FeedOutcome::NotModified)
        }
        Fetch::Parsed(found) => store(ctx, writer, feed, *found, adopted, slots)
            .await
            .map(FeedOutcome::Stored),
    }
}

/// Until when the feed is backing off, when it is and the poll respects it.
fn backing_off(ctx: &Context, state: &PollState) -> Option<DateTime<Utc>> {
    state
        .next_fetch_at
        .filter(|t| ctx.respect_backoff && *t > Utc::now())
}

/// Fetches in a row that must see the same permanent redirect before the
/// new URL is fetched directly.
const MOVE_CONFIRMATIONS: i64 = 3;

/// A permanent redirect confirmed often enough is followed directly
/// (docs/fetching.md, "Fetching"); `status` and the digests keep telling the user to
/// update the config.
fn adopted_url(state: &PollState) -> Option<Url> {
    state
        .moved
        .as_ref()
        .filter(|(_, confirmations)| *confirmations >= MOVE_CONFIRMATIONS)
        .and_then(|(to, _)| Url::parse(to).ok())
}

/// What one fetch of a feed came to.
pub(super) enum Fetch {
    NotModified,
    Parsed(Box<Found>),
}

/// A parsed feed, with what its fetch said (the body itself is dropped).
pub(super) struct Found {
    pub parsed: ParsedFeed,
    pub fetched: Fetched,
    /// The web page whose advertised feed this is, when the URL was a page.
    pub page: Option<Url>,
}

/// Fetches and parses the configured `url`, or the URL it moved to when
/// that move is `adopted` (judged by the guard as any URL the feed's
/// server gave: only the configured origin is the operator's choice); a
/// web page is followed to the feed it advertises (docs/fetching.md, "Fetching").
/// Everything ends by `deadline`.
pub(super) async fn fetch_and_parse(
    fetcher: &Fetcher,
    max_items: usize,
    url: &Url,
    adopted: Option<&Url>,
    validators: &crate::model::Validators,
    deadline: Instant,
) -> Result<Fetch, FeedError> {
    let outcome = match adopted {
        Some(moved) => {
            fetcher
                .fetch_moved(url, moved, validators, deadline)
                .await?
        }
        None => fetcher.fetch(url, validators, deadline).await?,
    };
    let fetched = match outcome {
        FetchOutcome::NotModified => return Ok(Fetch::NotModified),
        FetchOutcome::Fetched(f) => *f,
    };
    match parse_off_thread(fetched, max_items).await? {
        (Ok(parsed), fetched) => Ok(Fetch::Parsed(Box::new(Found {
            parsed,
            fetched,
            page: None,
        }))),
        (Err(error), mut page) => {
            let advertised =
                parse::discover(&page.body, &page.final_url).filter(|u| *u != page.final_url);
            // The page is done with: its body and its large-body turn go
            // before the feed it advertises is fetched.
            page.body = Vec::new();
            page.large.release();
            let found = match advertised {
                Some(url) => advertised_feed(fetcher, max_items, &page, &url, deadline).await,
                None => None,
            };
            found
                .map(|f| Fetch::Parsed(Box::new(f)))
                .ok_or(FeedError::Parse {
                    status: page.status,
                    error,
                })
        }
    }
}

/// Parsing is CPU work on untrusted bytes: it runs off the async workers.
/// The body comes back (not copied: it can be `max_body` long) in case it
/// is a web page to look for an advertised feed in; it is dropped otherwise.
async fn parse_off_thread(
    mut fetched: Fetched,
    max_items: usize,
) -> Result<(Result<ParsedFeed, ParseError>, Fetched), FeedError> {
    let body = std::mem::take(&mut fetched.body);
    let (base, content_type) = (fetched.final_url.clone(), fetched.content_type.clone());
    let (parsed, body) = tokio::task::spawn_blocking(move || {
        let parsed = parse::parse_feed_as(&body, content_type.as_deref(), &base, max_items);
        (parsed, body)
    })
    .await
    .map_err(|e| FeedError::Panicked(e.to_string()))?;
    if parsed.is_err() {
        fetched.body = body;
    }
    Ok((parsed, fetched))
}

/// The feed at `url`, which the web page `page` advertises, fetched through
/// the guard (a public page cannot point us inside) and parsed.
async fn advertised_feed(
    fetcher: &Fetcher,
    max_items: usize,
    page: &Fetched,
    url: &Url,
    deadline: Instant,
) -> Option<Found> {
    let fetched = match fetcher.fetch_link(url, deadline).await {
        Ok(FetchOutcome::Fetched(found)) => *found,
        Ok(FetchOutcome::NotModified) => return None,
        Err(e) => {
            tracing::warn!(page = %page.final_url, found = %url, error = %e, "cannot fetch the feed the page advertises");
            return None;
        }
    };
    let (Ok(parsed), fetched) = parse_off_thread(fetched, max_items).await.ok()? else {
        return None;
    };
    Some(Found {
        parsed,
        fetched,
        page: Some(page.final_url.clone()),
    })
}

/// Hands the parsed items to the poll's writer and waits for their report;
/// then, for a `full_text` feed, reads the articles of the items held for
/// them, outside the poll's slots (docs/fetching.md, "Full text": the items are
/// stored first, an article costs only itself).
async fn store(
    ctx: &Context,
    writer: &Writer,
    feed: &FeedConfig,
    found: Found,
    adopted: Option<Url>,
    slots: Slots,
) -> Result<IngestReport, FeedError> {
    let Found {
        parsed,
        mut fetched,
        page,
    } = found;
    if let Some(page) = &page {
        tracing::warn!(feed = %feed.name, page = %page, found = %fetched.final_url, "the URL is a web page; using the feed it advertises (put that URL in the config)");
    }
    if let Some(why) = &parsed.read_leniently {
        tracing::debug!(feed = %feed.name, reason = %why, "read with the lenient reader");
    }
    // docs/fetching.md, "Feeds the world throws at us": an entry that cannot be read
    // costs that entry only.
    for entry in &parsed.skipped {
        tracing::warn!(feed = %feed.name, entry = %entry, "an entry of the feed cannot be read; the others are stored");
    }
    // The feed's body is parsed: its large-body turn goes to the next one,
    // which may be this feed's own article (docs/fetching.md, "Fetching").
    fetched.large.release();
    let moved_to = fetched.moved_to.clone().or(adopted).map(|u| u.to_string());
    let written = writer
        .store(Parsed {
            feed: feed.name.clone(),
            url: feed.url.to_string(),
            status: fetched.status,
            validators: std::mem::take(&mut fetched.validators),
            items: parsed.items,
            backfill_cutoff: backfill_cutoff(ctx),
            moved_to: moved_to.clone(),
            not_before: not_before(fetched.max_age, parsed.ttl_minutes),
            hold_for_articles: super::articles::wanted(ctx, feed),
        })
        .await
        .map_err(FeedError::Store)?;
    // The feed is stored: its slots go to the next feed while its articles
    // are read.
    drop(slots);
    let mut report = written.report;
    if !written.held.is_empty() {
        let deadline = Instant::now() + ctx.config.poll.article_wait;
        let (items, tally) =
            super::articles::read_held(ctx, &feed.name, written.held, deadline).await;
        let matched = writer
            .articles(feed.name.clone(), items, tally)
            .await
            .map_err(FeedError::Store)?;
        report.matched_items += matched.matched_items;
    }
    report.held.clear();
    // A feed with nothing new is said at debug: at info, every feed of a
    // quiet hour filled the journal on every poll.
    if report.new_items > 0 {
        tracing::info!(feed = %feed.name, new_items = report.new_items, matched_items = report.matched_items, "feed polled");
    } else {
        tracing::debug!(feed = %feed.name, "feed polled: nothing new");
    }
    if let Some(to) = &moved_to {
        tracing::warn!(feed = %feed.name, moved_to = %to, "the feed has moved permanently; update the config");
    }
    Ok(report)
}

/// The poll's slots a feed holds while it is fetched, parsed and stored
/// (its host's and the poll's), given back before its articles are read.
pub(super) struct Slots {
    pub _held: Vec<tokio::sync::OwnedSemaphorePermit>,
}

/// On a feed's first fetch, only items newer than this may alert.
fn backfill_cutoff(ctx: &Context) -> Option<DateTime<Utc>> {
    let window = chrono::Duration::from_std(ctx.config.poll.backfill?).ok()?;
    Some(
        Utc::now()
            .checked_sub_signed(window)
            .unwrap_or(DateTime::<Utc>::MIN_UTC),
    )
}

/// Cache-Control max-age and `<ttl>` are minimum intervals (docs/fetching.md,
/// "Fetching"), believed up to a day.
fn not_before(
    max_age: Option<std::time::Duration>,
    ttl_minutes: Option<u32>,
) -> Option<DateTime<Utc>> {
    let ttl = ttl_minutes.map(|m| std::time::Duration::from_secs(u64::from(m) * 60));
    let wait = chrono::Duration::from_std(max_age.max(ttl)?).ok()?;
    Some(Utc::now() + wait.min(BACKOFF_CAP))
}

/// First wait after a failure; it doubles with each failure in a row.
const BACKOFF_BASE: chrono::Duration = chrono::Duration::minutes(5);
/// The longest wait: a feed failing for long is still probed daily, never
/// silently abandoned (docs/fetching.md, "Fetching").
const BACKOFF_CAP: chrono::Duration = chrono::Duration::hours(24);
/// A Retry-After longer than this is not believed.
const RETRY_AFTER_CAP: chrono::Duration = chrono::Duration::days(7);

/// How long to leave a feed alone after its `failures`-th failure in a row.
pub(super) fn backoff(
    failures: i64,
    status: Option<u16>,
    retry_after: Option<std::time::Duration>,
) -> chrono::Duration {
    let doublings = u32::try_from(failures.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    let exponential = BACKOFF_BASE
        .checked_mul(1 << doublings)
        .unwrap_or(BACKOFF_CAP)
        .min(BACKOFF_CAP);
    // 410 Gone: the server says the feed is over; look again once a day.
    let wait = if status == Some(410) {
        BACKOFF_CAP
    } else {
        exponential
    };
    let asked = retry_after
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .unwrap_or(chrono::Duration::zero())
        .min(RETRY_AFTER_CAP);
    wait.max(asked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_backoff_doubles_caps_at_a_day_and_honours_retry_after() {
        let m = chrono::Duration::minutes;
        assert_eq!(backoff(1, Some(500), None), m(5));
        assert_eq!(backoff(2, None, None), m(10));
        assert_eq!(backoff(4, None, None), m(40));
        assert_eq!(
            backoff(50, None, None),
            chrono::Duration::hours(24),
            "then a daily probe"
        );
        assert_eq!(backoff(1, Some(410), None), chrono::Duration::hours(24));
        let hour = std::time::Duration::from_secs(3600);
        assert_eq!(backoff(1, Some(429), Some(hour)), m(60));
        assert_eq!(
            backoff(10, Some(503), Some(hour)),
            chrono::Duration::hours(24),
            "the longer wait wins"
        );
        let year = std::time::Duration::from_secs(365 * 86400);
        assert_eq!(backoff(1, Some(429), Some(year)), chrono::Duration::days(7));
    }
}
