//! Pipeline: the only module that composes stages (docs/DESIGN.md §2). `poll_all`
//! runs fetch → parse → store/match for every feed under global and per-host
//! limits, politely (backoff, minimum intervals, redirects, autodiscovery);
//! `deliver` (in `deliver.rs`) runs store → digest → outbox → mail → store.
//! A feed's or a message's failure becomes a report and a row in `status`,
//! never an abort.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, FeedConfig};
use crate::fetch::{FetchOutcome, Fetcher};
use crate::model::IngestReport;
use crate::parse;
use crate::store::{Db, PollState, Store, StoreError};

/// Everything a pipeline run needs.
#[derive(Clone)]
pub struct Context {
    pub config: Arc<Config>,
    pub db: Db,
    pub fetcher: Fetcher,
    /// Cancelled on SIGTERM: no new feed is started, work in flight finishes.
    pub shutdown: CancellationToken,
    /// Skip feeds that are backing off (true, the default); a poll the user
    /// asks for by hand fetches them anyway.
    pub respect_backoff: bool,
    /// Each feed of a poll starts after a random delay up to this, so that
    /// scheduled polls do not hit every server in the same second (README, "Fetching").
    /// Zero (the default) for polls asked for by hand.
    pub jitter: std::time::Duration,
}

/// Why a pipeline context could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("opening the database: {0}")]
    Store(#[from] StoreError),
    #[error("setting up the HTTP client: {0}")]
    Fetch(#[from] crate::fetch::FetchError),
}

impl Context {
    /// Opens the database in the config's state dir.
    pub fn open(config: Config) -> Result<Self, SetupError> {
        let db = Db::new(Store::open_dir(&config.state_dir)?);
        Ok(Self::new(Arc::new(config), db)?)
    }

    /// The same database and shutdown signal with a new config (reload). A
    /// changed `state_dir` takes effect at the next start.
    pub fn with_config(&self, config: Config) -> Result<Self, SetupError> {
        if config.state_dir != self.config.state_dir {
            tracing::warn!(state_dir = %config.state_dir.display(), "state_dir changed: restart feedwatch to use it");
        }
        let mut ctx = Self::new(Arc::new(config), self.db.clone())?;
        ctx.shutdown = self.shutdown.clone();
        ctx.respect_backoff = self.respect_backoff;
        Ok(ctx)
    }

    pub fn new(config: Arc<Config>, db: Db) -> Result<Self, crate::fetch::FetchError> {
        let fetcher = Fetcher::new(config.poll.timeout, config.poll.max_body)?;
        Ok(Context {
            config,
            db,
            fetcher,
            shutdown: CancellationToken::new(),
            respect_backoff: true,
            jitter: std::time::Duration::ZERO,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum FeedOutcome {
    Stored(IngestReport),
    NotModified,
    Failed(String),
    /// Not fetched: the feed is backing off until then.
    Deferred(chrono::DateTime<Utc>),
    /// Not started because of shutdown.
    Skipped,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FeedReport {
    pub feed: String,
    pub outcome: FeedOutcome,
}

/// Polls one feed: fetch, parse, store and match (through the poll's
/// writer). Never fails: a failure is recorded on the feed and returned as
/// `FeedOutcome::Failed`.
async fn poll_feed(
    ctx: &Context,
    writer: &Writer,
    feed: &FeedConfig,
    state: PollState,
) -> FeedReport {
    let outcome = match poll_feed_inner(ctx, writer, feed, state).await {
        Ok(o) => o,
        Err(message) => {
            tracing::warn!(feed = %feed.name, url = %feed.url, error = %message, "feed failed");
            FeedOutcome::Failed(message)
        }
    };
    FeedReport {
        feed: feed.name.clone(),
        outcome,
    }
}

async fn poll_feed_inner(
    ctx: &Context,
    writer: &Writer,
    feed: &FeedConfig,
    state: PollState,
) -> Result<FeedOutcome, String> {
    let name = feed.name.clone();
    let url = feed.url.to_string();
    let PollState {
        validators,
        next_fetch_at: next_fetch,
        moved,
    } = state;
    if let Some(until) = next_fetch.filter(|t| ctx.respect_backoff && *t > Utc::now()) {
        return Ok(FeedOutcome::Deferred(until));
    }
    // A permanent redirect confirmed often enough is followed directly
    // (README, "Fetching"); status and the digests keep telling the user to update the
    // config.
    let adopted = moved
        .filter(|(_, confirmations)| *confirmations >= MOVE_CONFIRMATIONS)
        .and_then(|(to, _)| url::Url::parse(&to).ok());
    let fetch_url = adopted.clone().unwrap_or_else(|| feed.url.clone());
    let fetched = match ctx.fetcher.fetch(&fetch_url, &validators).await {
        Ok(FetchOutcome::NotModified) => {
            writer.not_modified(name, url);
            return Ok(FeedOutcome::NotModified);
        }
        Ok(FetchOutcome::Fetched(f)) => *f,
        Err(e) => {
            let retry_after = match &e {
                crate::fetch::FetchError::Status { retry_after, .. } => *retry_after,
                _ => None,
            };
            return Err(record_failure(ctx, feed, e.status(), e.to_string(), retry_after).await);
        }
    };
    let max_items = ctx.config.poll.max_items;
    let mut fetched = fetched;
    let body = std::mem::take(&mut fetched.body);
    let base = fetched.final_url.clone();
    let content_type = fetched.content_type.clone();
    // Parsing is CPU work on untrusted bytes: keep it off the async workers.
    // The body comes back (not copied: it can be max_body long) for
    // autodiscovery when it is a web page.
    let parsed = tokio::task::spawn_blocking(move || {
        let parsed = parse::parse_feed_as(&body, content_type.as_deref(), &base, max_items);
        (parsed, body)
    })
    .await
    .map_err(|e| e.to_string())
    .map(|(parsed, body)| {
        fetched.body = body;
        parsed.map_err(|e| e.to_string())
    })
    .and_then(|r| r);
    let (parsed, fetched) = match parsed {
        Ok(p) => (p, fetched),
        // A page instead of a feed: follow the feed it advertises (README, "Fetching").
        Err(e) => match discover_feed(ctx, feed, &fetched, max_items).await {
            Some(found) => found,
            None => return Err(record_failure(ctx, feed, Some(fetched.status), e, None).await),
        },
    };
    let cutoff = ctx
        .config
        .poll
        .backfill
        .map(|d| Utc::now() - chrono::Duration::from_std(d).unwrap_or_default());
    let (status, max_age) = (fetched.status, fetched.max_age);
    let moved_to = fetched
        .moved_to
        .as_ref()
        .or(adopted.as_ref())
        .map(|u| u.to_string());
    // Cache-Control max-age and <ttl> are minimum intervals (README, "Fetching").
    let ttl = parsed
        .ttl_minutes
        .map(|m| std::time::Duration::from_secs(u64::from(m) * 60));
    let not_before = max_age
        .max(ttl)
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .map(|wait| Utc::now() + wait.min(BACKOFF_CAP));
    let report = writer
        .store(Parsed {
            feed: name,
            url,
            status,
            validators: fetched.validators,
            items: parsed.items,
            backfill_cutoff: cutoff,
            moved_to: moved_to.clone(),
            not_before,
        })
        .await;
    match report {
        Ok(r) => {
            tracing::info!(feed = %feed.name, new_items = r.new_items, matches = r.matches, "feed polled");
            if let Some(to) = &moved_to {
                tracing::warn!(feed = %feed.name, moved_to = %to, "the feed has moved permanently; update the config");
            }
            Ok(FeedOutcome::Stored(r))
        }
        Err(e) => Err(record_failure(ctx, feed, Some(status), e, None).await),
    }
}

/// When `page` is an HTML page advertising a feed, fetches and parses that.
async fn discover_feed(
    ctx: &Context,
    feed: &FeedConfig,
    page: &crate::fetch::Fetched,
    max_items: usize,
) -> Option<(parse::ParsedFeed, crate::fetch::Fetched)> {
    let url = parse::discover(&page.body, &page.final_url).filter(|u| *u != page.final_url)?;
    let Ok(FetchOutcome::Fetched(found)) = ctx.fetcher.fetch(&url, &Default::default()).await
    else {
        return None;
    };
    let found = *found;
    let (body, base, ct) = (
        found.body.clone(),
        found.final_url.clone(),
        found.content_type.clone(),
    );
    let parsed = tokio::task::spawn_blocking(move || {
        parse::parse_feed_as(&body, ct.as_deref(), &base, max_items)
    })
    .await
    .ok()?
    .ok()?;
    tracing::warn!(feed = %feed.name, page = %page.final_url, found = %url, "the URL is a web page; using the feed it advertises (put that URL in the config)");
    Some((parsed, found))
}

/// Fetches in a row that must see the same permanent redirect before the
/// new URL is fetched directly.
const MOVE_CONFIRMATIONS: i64 = 3;

/// First wait after a failure; it doubles with each failure in a row.
const BACKOFF_BASE: chrono::Duration = chrono::Duration::minutes(5);
/// The longest wait: a feed failing for long is still probed daily, never
/// silently abandoned (README, "Fetching").
const BACKOFF_CAP: chrono::Duration = chrono::Duration::hours(24);
/// A Retry-After longer than this is not believed.
const RETRY_AFTER_CAP: chrono::Duration = chrono::Duration::days(7);

/// How long to leave a feed alone after its `failures`-th failure in a row.
fn backoff(
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

async fn record_failure(
    ctx: &Context,
    feed: &FeedConfig,
    status: Option<u16>,
    error: String,
    retry_after: Option<std::time::Duration>,
) -> String {
    let (name, url, err) = (feed.name.clone(), feed.url.to_string(), error.clone());
    let recorded = ctx
        .db
        .call(move |s| {
            let now = Utc::now();
            let failures = s.record_failure(&name, &url, status, &err, now)?;
            s.defer(&name, now + backoff(failures, status, retry_after))
        })
        .await;
    if let Err(e) = recorded {
        tracing::error!(feed = %feed.name, error = %e, "cannot record the feed's failure");
    }
    error
}

/// Polls the given feeds concurrently: at most `poll.concurrency` at once and
/// `poll.per_host` against one host. Reports come back in config order.
pub async fn poll_feeds(ctx: &Context, feeds: &[FeedConfig]) -> Vec<FeedReport> {
    poll_feeds_with_progress(ctx, feeds, &|_| {}).await
}

/// As `poll_feeds`, calling `progress` as each feed finishes (the CLI draws
/// a progress bar with it).
pub async fn poll_feeds_with_progress(
    ctx: &Context,
    feeds: &[FeedConfig],
    progress: &(dyn Fn(&FeedReport) + Sync),
) -> Vec<FeedReport> {
    // Every feed's validators, backoff and moves in one query.
    let mut states = match ctx.db.call(|s| s.poll_states()).await {
        Ok(states) => states,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the feeds' state; nothing polled");
            let failed = |feed: &FeedConfig| FeedReport {
                feed: feed.name.clone(),
                outcome: FeedOutcome::Failed(e.to_string()),
            };
            let reports: Vec<FeedReport> = feeds.iter().map(failed).collect();
            reports.iter().for_each(progress);
            return reports;
        }
    };
    let (writer, written) = Writer::start(ctx.db.clone(), Arc::clone(&ctx.config));
    let global = Arc::new(Semaphore::new(ctx.config.poll.concurrency));
    let mut hosts: HashMap<String, Arc<Semaphore>> = HashMap::new();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, feed) in feeds.iter().enumerate() {
        let host = feed.url.host_str().unwrap_or("").to_ascii_lowercase();
        let per_host = Arc::clone(
            hosts
                .entry(host)
                .or_insert_with(|| Arc::new(Semaphore::new(ctx.config.poll.per_host))),
        );
        let (ctx, feed, global, writer) = (
            ctx.clone(),
            feed.clone(),
            Arc::clone(&global),
            writer.clone(),
        );
        let state = states.remove(&feed.name).unwrap_or_default();
        tasks.spawn(async move {
            if !ctx.jitter.is_zero() {
                let wait = ctx.jitter.mul_f64(fastrand::f64());
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = ctx.shutdown.cancelled() => {}
                }
            }
            let _host = per_host.acquire_owned().await;
            let _slot = global.acquire_owned().await;
            if ctx.shutdown.is_cancelled() {
                return (
                    i,
                    FeedReport {
                        feed: feed.name.clone(),
                        outcome: FeedOutcome::Skipped,
                    },
                );
            }
            (i, poll_feed(&ctx, &writer, &feed, state).await)
        });
    }
    let mut reports: Vec<(usize, FeedReport)> = Vec::with_capacity(feeds.len());
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(r) => {
                progress(&r.1);
                reports.push(r);
            }
            // A panic inside one feed's task costs that feed only (README, "Fetching").
            Err(e) => tracing::error!(error = %e, "a feed task panicked"),
        }
    }
    // Every feed task has ended; the writer ends with its last handle.
    drop(writer);
    if let Err(e) = written.await {
        tracing::error!(error = %e, "the store writer panicked");
    }
    reports.sort_by_key(|(i, _)| *i);
    reports.into_iter().map(|(_, r)| r).collect()
}

/// Polls every configured feed.
pub async fn poll_all(ctx: &Context) -> Vec<FeedReport> {
    poll_feeds(ctx, &ctx.config.feeds).await
}

mod deliver;
mod writer;

use writer::{Parsed, Writer};

pub use deliver::{DeliverReport, compose, deliver, dry_run, flush_outbox, mailer, prune};

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
