//! Pipeline: the only module that composes stages (docs/DESIGN.md §2).
//! `poll_feeds` runs fetch → parse → store/match for every feed under
//! global and per-host limits (one feed's steps in `feed.rs`, the poll's
//! single writer in `writer.rs`), then prunes by `retention`; `deliver.rs` runs store → digest → outbox
//! → mail → store; `check.rs` loads configs and says what `check` finds.
//! A feed's or a message's failure becomes a report and a row in `status`,
//! never an abort.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, FeedConfig};
use crate::fetch::Fetcher;
use crate::model::IngestReport;
use crate::store::{Db, PollState, Pruned, Store, StoreError};

mod articles;
mod check;
mod compose;
mod deliver;
pub mod explain;
mod feed;
mod health;
mod status;
mod writer;

pub use check::{
    ArticleProbe, CheckReport, ConfigSource, FULL_CHECK_EVERY, Probe, check, check_database,
    check_database_if_due, load_config, password_places, probe,
};
pub use compose::{Composed, compose, dry_run};
pub use deliver::{
    DeliverError, DeliverReport, Retry, deliver, digests_due, flush_outbox, mailer, prune,
};
pub use feed::FeedError;
pub use health::{
    FAILED_POLLS, MailFailure, StoreFailure, StoreHealth, read_failure, read_mail_failure,
};
pub use status::{DigestRow, FeedRow, NextSend, Status, status};
pub use writer::WriteError;
use writer::Writer;

/// Everything a pipeline run needs.
#[derive(Clone)]
pub struct Context {
    pub config: Arc<Config>,
    pub db: Db,
    pub fetcher: Fetcher,
    /// Cancelled on SIGTERM: no new feed or message is started, and feeds
    /// in flight are abandoned (their items stay unstored, to be fetched
    /// again next time).
    shutdown: CancellationToken,
    /// Skip feeds that are backing off (true, the default); a poll the user
    /// asks for by hand fetches them anyway.
    pub respect_backoff: bool,
    /// Each feed of a poll starts after a random delay up to this, so that
    /// scheduled polls do not hit every server in the same second (docs/fetching.md,
    /// "Fetching"). Zero (the default) for polls asked for by hand.
    pub jitter: std::time::Duration,
    /// Beaten as a run makes progress (a feed done, a message sent or
    /// failed): the daemon pets systemd's watchdog only while it beats.
    pub heartbeat: Heartbeat,
    /// How long a message already in an SMTP conversation may take to
    /// finish after shutdown was asked for: well inside systemd's stop
    /// timeout, and long enough for a server that is answering.
    pub stop_grace: std::time::Duration,
    /// Politeness towards the hosts of `full_text` feeds' articles.
    hosts: Arc<articles::Hosts>,
    /// Whether the store takes writes, across polls and reloads (`health`).
    pub store_health: StoreHealth,
    /// Articles read at once in the whole process (`poll.concurrency`):
    /// they are read outside their feeds' slots.
    article_slots: Arc<Semaphore>,
}

/// The longest a run may go between two heartbeats while working: one
/// fetch (bounded by `poll.timeout`), one wait for an article's host within
/// `poll.article_wait` (when a feed has `full_text`), or one delivery
/// (bounded by the mail stage's deadline).
pub fn longest_step(config: &Config) -> std::time::Duration {
    let articles = if config.feeds.iter().any(|f| f.full_text) {
        config.poll.article_wait
    } else {
        std::time::Duration::ZERO
    };
    (config.poll.timeout + articles).max(crate::mail::DELIVERY_DEADLINE)
}

/// When a pipeline run last made progress.
#[derive(Clone, Debug, Default)]
pub struct Heartbeat(Arc<std::sync::Mutex<Option<tokio::time::Instant>>>);

impl Heartbeat {
    pub fn beat(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(tokio::time::Instant::now());
    }

    pub fn last(&self) -> Option<tokio::time::Instant> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Why a pipeline context could not be set up. Each variant says its cause
/// and keeps it typed, but does not also expose it as `source()`: a chain
/// printed whole says each cause once (docs/DESIGN.md §5).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("opening the database: {0}")]
    Store(StoreError),
    #[error("setting up the HTTP client: {0}")]
    Fetch(crate::fetch::FetchError),
}

impl From<StoreError> for SetupError {
    fn from(e: StoreError) -> Self {
        SetupError::Store(e)
    }
}

impl From<crate::fetch::FetchError> for SetupError {
    fn from(e: crate::fetch::FetchError) -> Self {
        SetupError::Fetch(e)
    }
}

/// What a long migration at start reports (for the daemon, which does not
/// reach the store itself).
pub use crate::store::{Progress, log_progress};

impl Context {
    /// Opens the database in the config's state dir (its stored links made
    /// again first when the link rules changed since they were stored).
    /// A long migration reports its progress to `report`.
    pub fn open(
        config: Config,
        shutdown: CancellationToken,
        report: &mut dyn FnMut(crate::store::Progress),
    ) -> Result<Self, SetupError> {
        let mut store = Store::open_dir_reporting(&config.state_dir, report)?;
        let relinked = store.relink(
            crate::parse::LINK_RULES_VERSION,
            &crate::parse::recanonicalize,
        )?;
        if relinked > 0 {
            tracing::info!(
                links = relinked,
                "stored links made again with the new link rules"
            );
        }
        Ok(Self::new(Arc::new(config), Db::new(store), shutdown)?)
    }

    /// The same database and shutdown signal with a new config (reload). A
    /// changed `state_dir` takes effect at the next start.
    pub fn with_config(&self, config: Config) -> Result<Self, SetupError> {
        if config.state_dir != self.config.state_dir {
            tracing::warn!(state_dir = %config.state_dir.display(), "state_dir changed: restart feedwatch to use it");
        }
        let same_politeness = config.poll.per_host == self.config.poll.per_host
            && config.poll.article_delay == self.config.poll.article_delay;
        let mut ctx = Self::new(Arc::new(config), self.db.clone(), self.shutdown.clone())?;
        ctx.respect_backoff = self.respect_backoff;
        ctx.stop_grace = self.stop_grace;
        ctx.store_health = self.store_health.clone();
        // The article hosts' turns and hold-offs (a Retry-After) go on
        // across a reload; new limits start a new table, which takes the
        // stored hold-offs in at the next poll.
        if same_politeness {
            ctx.hosts = Arc::clone(&self.hosts);
        }
        Ok(ctx)
    }

    pub fn new(
        config: Arc<Config>,
        db: Db,
        shutdown: CancellationToken,
    ) -> Result<Self, crate::fetch::FetchError> {
        let fetcher = Fetcher::new(config.poll.timeout, config.poll.max_body)?
            .allowing(&config.poll.allow_internal);
        Ok(Context {
            db,
            fetcher,
            shutdown,
            respect_backoff: true,
            jitter: std::time::Duration::ZERO,
            heartbeat: Heartbeat::default(),
            stop_grace: std::time::Duration::from_secs(3),
            hosts: Arc::new(articles::Hosts::new(
                config.poll.per_host,
                config.poll.article_delay,
            )),
            article_slots: Arc::new(Semaphore::new(config.poll.concurrency)),
            store_health: StoreHealth::default(),
            config,
        })
    }

    /// Whether shutdown has been asked for.
    pub fn shutting_down(&self) -> bool {
        self.shutdown.is_cancelled()
    }

    /// Resolves when shutdown is asked for.
    pub async fn shutdown_requested(&self) {
        self.shutdown.cancelled().await
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum FeedOutcome {
    Stored(IngestReport),
    NotModified,
    Failed(FeedError),
    /// Not fetched: the feed is backing off until then (it failed).
    Deferred(chrono::DateTime<Utc>),
    /// Not fetched: a healthy feed not due before then, by its own refresh
    /// interval (`<ttl>`, `Cache-Control: max-age`, `Retry-After`).
    NotDue(chrono::DateTime<Utc>),
    /// Not started, or abandoned, because of shutdown.
    Skipped,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FeedReport {
    pub feed: String,
    pub outcome: FeedOutcome,
}

impl FeedReport {
    /// A failure of feedwatch rather than of the feed (the store, a bug):
    /// the poll as a whole failed.
    pub fn is_poll_failure(&self) -> bool {
        matches!(&self.outcome, FeedOutcome::Failed(e) if !e.is_the_feeds())
    }
}

/// What one poll came to.
#[derive(Debug)]
pub struct Polled {
    /// One per feed, in config order.
    pub reports: Vec<FeedReport>,
    /// What pruning by `retention` after the poll removed, or why it could
    /// not (logged as well).
    pub pruned: Result<Pruned, StoreError>,
    /// Why some of the poll's writes failed, if any did: the writer's
    /// groups, or finishing what an earlier poll held for its articles
    /// (logged as well; the store's health, `health`).
    pub writes: Result<(), WriteError>,
}

/// Polls the given feeds concurrently: at most `poll.concurrency` at once and
/// `poll.per_host` against one host, then prunes. Reports come back in
/// config order.
pub async fn poll_feeds(ctx: &Context, feeds: &[FeedConfig]) -> Vec<FeedReport> {
    poll_feeds_with_progress(ctx, feeds, &|_| {}).await.reports
}

/// As `poll_feeds`, calling `progress` as each feed finishes (the CLI draws
/// a progress bar with it). Every poll — the daemon's, `run --once`'s,
/// `poll`'s — ends by pruning what is older than `retention` (docs/reference.md,
/// "Configuration"), unless shutdown was asked for.
pub async fn poll_feeds_with_progress(
    ctx: &Context,
    feeds: &[FeedConfig],
    progress: &(dyn Fn(&FeedReport) + Sync),
) -> Polled {
    let (reports, writes) = fetch_and_store(ctx, feeds, progress).await;
    let pruned = if ctx.shutting_down() {
        Ok(Pruned::default())
    } else {
        prune(ctx).await
    };
    if let Err(e) = &pruned {
        tracing::error!(error = %e, "cannot prune old items");
    }
    if !ctx.shutting_down() {
        let failure = writes
            .as_ref()
            .err()
            .map(ToString::to_string)
            .or_else(|| pruned.as_ref().err().map(ToString::to_string));
        match failure {
            Some(e) => ctx
                .store_health
                .failed(&ctx.config.state_dir, &e, Utc::now()),
            None => ctx.store_health.recovered(&ctx.config.state_dir),
        }
    }
    Polled {
        reports,
        pruned,
        writes,
    }
}

/// Every feed fetched, parsed, stored and matched; and what earlier polls
/// left held, finished.
async fn fetch_and_store(
    ctx: &Context,
    feeds: &[FeedConfig],
    progress: &(dyn Fn(&FeedReport) + Sync),
) -> (Vec<FeedReport>, Result<(), WriteError>) {
    // Every feed's validators, backoff and moves in one query.
    let states = match ctx.db.call(|s| s.poll_states()).await {
        Ok(states) => states,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the feeds' state; nothing polled");
            let e = WriteError::from(e);
            let failed = |feed: &FeedConfig| FeedReport {
                feed: feed.name.clone(),
                outcome: FeedOutcome::Failed(FeedError::Store(e.clone())),
            };
            let reports: Vec<FeedReport> = feeds.iter().map(failed).collect();
            reports.iter().for_each(progress);
            return (reports, Ok(()));
        }
    };
    // Hold-offs another process stored (a cron `poll`), once per poll.
    if ctx.config.feeds.iter().any(|f| f.full_text) {
        ctx.hosts.load(&ctx.db).await;
    }
    let (writer, written) = Writer::start(ctx.db.clone(), Arc::clone(&ctx.config));
    let tasks = FeedTasks::spawn(ctx, feeds, states, &writer);
    // Items an earlier poll held for their articles and did not finish (a
    // crash, a stop) are finished beside this poll's feeds; abandoned, as
    // the feeds are, at shutdown (they stay held for the next start).
    let orphans = async {
        tokio::select! {
            biased;
            _ = ctx.shutdown.cancelled() => Ok(()),
            done = articles::finish_orphans(ctx, &writer) => done,
        }
    };
    let (reports, orphans) = tokio::join!(tasks.join(ctx, progress), orphans);
    if let Err(e) = &orphans {
        tracing::error!(error = %e, "cannot finish the items an earlier poll held for their articles");
    }
    // Every feed task has ended; the writer ends with its last handle.
    drop(writer);
    let write_error = match written.await {
        Ok(error) => error,
        Err(e) => {
            tracing::error!(error = %e, "the store writer panicked");
            Some(WriteError::Panicked(e.to_string()))
        }
    };
    (reports, orphans.and(write_error.map_or(Ok(()), Err)))
}

/// One task per feed of a poll, and which feed each task is.
struct FeedTasks {
    set: tokio::task::JoinSet<(usize, FeedReport)>,
    feed_of: HashMap<tokio::task::Id, (usize, String)>,
}

impl FeedTasks {
    /// Starts every feed, each waiting for a slot of its host and a slot of
    /// the poll (`poll.per_host`, `poll.concurrency`).
    fn spawn(
        ctx: &Context,
        feeds: &[FeedConfig],
        mut states: HashMap<String, PollState>,
        writer: &Writer,
    ) -> Self {
        let global = Arc::new(Semaphore::new(ctx.config.poll.concurrency));
        let mut hosts: HashMap<String, Arc<Semaphore>> = HashMap::new();
        let mut tasks = FeedTasks {
            set: tokio::task::JoinSet::new(),
            feed_of: HashMap::new(),
        };
        for (i, feed) in feeds.iter().enumerate() {
            let host = feed.url.host_str().unwrap_or("").to_ascii_lowercase();
            let per_host = hosts
                .entry(host)
                .or_insert_with(|| Arc::new(Semaphore::new(ctx.config.poll.per_host)));
            let slots = [Arc::clone(per_host), Arc::clone(&global)];
            let state = states.remove(&feed.name).unwrap_or_default();
            let run = poll_in_slot(ctx.clone(), writer.clone(), feed.clone(), state, slots);
            let task = tasks.set.spawn(async move { (i, run.await) });
            tasks.feed_of.insert(task.id(), (i, feed.name.clone()));
        }
        tasks
    }

    /// Every report, in config order, as the tasks end.
    async fn join(
        mut self,
        ctx: &Context,
        progress: &(dyn Fn(&FeedReport) + Sync),
    ) -> Vec<FeedReport> {
        let mut reports: Vec<(usize, FeedReport)> = Vec::with_capacity(self.feed_of.len());
        while let Some(joined) = self.set.join_next_with_id().await {
            let report = match joined {
                Ok((_, r)) => r,
                // A panic inside one feed's task costs that feed only
                // (docs/fetching.md, "Fetching"), and is reported as the bug it is.
                Err(e) => {
                    tracing::error!(error = %e, "a feed task panicked");
                    let (i, feed) = self.feed_of.remove(&e.id()).unwrap_or_default();
                    let outcome = FeedOutcome::Failed(FeedError::Panicked(e.to_string()));
                    (i, FeedReport { feed, outcome })
                }
            };
            ctx.heartbeat.beat();
            progress(&report.1);
            reports.push(report);
        }
        reports.sort_by_key(|(i, _)| *i);
        reports.into_iter().map(|(_, r)| r).collect()
    }
}

/// One feed: after its jitter, in its slots, unless shutdown comes first.
async fn poll_in_slot(
    ctx: Context,
    writer: Writer,
    feed: FeedConfig,
    state: PollState,
    slots: [Arc<Semaphore>; 2],
) -> FeedReport {
    let name = feed.name.clone();
    let run = async {
        if !ctx.jitter.is_zero() {
            tokio::time::sleep(ctx.jitter.mul_f64(fastrand::f64())).await;
        }
        let [per_host, global] = slots;
        // The semaphores are never closed.
        let held = [per_host.acquire_owned().await, global.acquire_owned().await];
        let slots = feed::Slots {
            _held: held.into_iter().flatten().collect(),
        };
        // Boxed, so that a feed waiting for its slots is a small future:
        // every feed's task is spawned at the start of a poll, and with
        // the whole fetch-parse-store state machine inline, 10,000 waiting
        // feeds took 140 MB (the benchmark's --scale).
        Box::pin(feed::poll_feed(&ctx, &writer, &feed, state, slots)).await
    };
    // Shutdown reaches the feeds in flight too: what they fetched is not
    // stored, and is fetched again at the next start.
    tokio::select! {
        biased;
        _ = ctx.shutdown.cancelled() => FeedReport {
            feed: name,
            outcome: FeedOutcome::Skipped,
        },
        report = run => report,
    }
}

/// Polls every configured feed.
pub async fn poll_all(ctx: &Context) -> Vec<FeedReport> {
    poll_feeds(ctx, &ctx.config.feeds).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(per_host: usize) -> Config {
        let text = format!(
            "state_dir = \"/nonexistent\"\n[poll]\nper_host = {per_host}\n[email]\n\
             from = \"a@example.org\"\nto = [\"b@example.org\"]\ntransport = \"stdout\"\n"
        );
        crate::config::parse(&text, std::path::Path::new("/x.toml"), None).unwrap()
    }

    /// A reload keeps the article hosts' turns and hold-offs (a host's
    /// Retry-After is honoured across it); new per-host limits start a new
    /// table, which takes the stored hold-offs in at the next poll.
    #[test]
    fn a_reload_keeps_the_article_hosts_politeness() {
        let db = Db::new(Store::open_in_memory().unwrap());
        let ctx = Context::new(Arc::new(config(2)), db, CancellationToken::new()).unwrap();
        let same = ctx.with_config(config(2)).unwrap();
        assert!(Arc::ptr_eq(&ctx.hosts, &same.hosts));
        let other = ctx.with_config(config(3)).unwrap();
        assert!(!Arc::ptr_eq(&ctx.hosts, &other.hosts));
    }
}
