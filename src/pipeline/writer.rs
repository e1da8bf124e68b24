//! Pipeline, store side of a poll: the feeds of one poll are fetched and
//! parsed concurrently, but everything the poll writes goes through one
//! writer, which takes whatever is waiting and writes it as one group
//! (`Store::write_group`: one transaction, one FTS5 segment, one matching
//! pass) — new items, 304s, and failures with their backoff. While a group
//! is being written the next one gathers, so groups grow exactly when the
//! store is the bottleneck. Per-feed commits were most of a first poll's
//! time (docs/performance.md, "Performance"). Only stored items are waited for; a 304 or a
//! failure is recorded without the feed's task waiting, and the poll ends
//! only when the writer has written everything.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use super::feed::{FeedError, backoff};
use crate::config::{Config, FeedConfig};
use crate::model::{ArticleTally, IngestReport, Item, Validators};
use crate::store::{Articles, Batch, Db, Failure, StoreError, Write};

/// Why a poll's write did not go through. A group that could not be
/// written at all answers each of its feeds with the one store error,
/// hence the `Arc` (the store retries the pieces of a failed group one by
/// one, and each piece then has its own); it stays typed, so
/// a caller tells a full disk from a database it may not write by its kind
/// (`store`), never by its text.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Store(Arc<StoreError>),
    /// The writer's task ended before answering (the runtime stopping).
    #[error("the store writer has stopped")]
    Stopped,
    /// The writer's task panicked: a bug in feedwatch.
    #[error("the store writer panicked: {0}")]
    Panicked(String),
}

impl WriteError {
    /// The store's own error, when the store refused the write.
    pub fn store(&self) -> Option<&StoreError> {
        match self {
            WriteError::Store(e) => Some(e),
            WriteError::Stopped | WriteError::Panicked(_) => None,
        }
    }
}

impl From<StoreError> for WriteError {
    fn from(e: StoreError) -> Self {
        WriteError::Store(Arc::new(e))
    }
}

/// The same failure: one store error shared by the feeds of a group is
/// equal to itself, not to another error with the same words.
impl PartialEq for WriteError {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (WriteError::Store(a), WriteError::Store(b)) => Arc::ptr_eq(a, b),
            (WriteError::Stopped, WriteError::Stopped) => true,
            (WriteError::Panicked(a), WriteError::Panicked(b)) => a == b,
            _ => false,
        }
    }
}

/// One feed's fetched and parsed items, to be stored.
pub(super) struct Parsed {
    pub feed: String,
    pub url: String,
    pub status: u16,
    pub validators: Validators,
    pub items: Vec<Item>,
    pub backfill_cutoff: Option<DateTime<Utc>>,
    pub moved_to: Option<String>,
    pub not_before: Option<DateTime<Utc>>,
    /// A `full_text` feed: hold the new items that may alert for their
    /// articles (docs/fetching.md, "Full text").
    pub hold_for_articles: bool,
}

/// What storing a feed's items came to: the report, and the items held
/// for their articles (each with its row id), to be finished by
/// `Writer::articles`.
pub(super) struct Written {
    pub report: IngestReport,
    pub held: Vec<(i64, Item)>,
}

enum Work {
    Stored(Parsed),
    /// Held items with their articles (or none, when it failed).
    Articles {
        feed: String,
        items: Vec<(i64, Item)>,
        tally: ArticleTally,
    },
    NotModified {
        feed: String,
        url: String,
    },
    Failed {
        feed: String,
        url: String,
        status: Option<u16>,
        error: String,
        retry_after: Option<std::time::Duration>,
    },
}

impl Work {
    /// How much this adds to a group (a 304 or a failure is one small update).
    fn weight(&self) -> usize {
        match self {
            Work::Stored(p) => p.items.len().max(1),
            Work::Articles { items, .. } => items.len().max(1),
            _ => 1,
        }
    }

    fn feed(&self) -> &str {
        match self {
            Work::Stored(p) => &p.feed,
            Work::Articles { feed, .. }
            | Work::NotModified { feed, .. }
            | Work::Failed { feed, .. } => feed,
        }
    }
}

/// Where the outcome goes; `None` when nobody waits for it (a 304, a
/// failure), and the writer logs a failure to write it itself.
type Reply = Option<oneshot::Sender<Result<Written, WriteError>>>;

/// A group stops growing at this many items: the store stages a group's
/// text in memory for the index, and a feed waits for its whole group.
const MAX_GROUP_ITEMS: usize = 5_000;

/// The handle the feed tasks of one poll send their results to.
#[derive(Clone)]
pub(super) struct Writer {
    queue: mpsc::UnboundedSender<(Work, Reply)>,
}

impl Writer {
    /// Starts the writer; it ends when every `Writer` clone is dropped.
    pub fn start(
        db: Db,
        config: Arc<Config>,
    ) -> (Writer, tokio::task::JoinHandle<Option<WriteError>>) {
        // Unbounded, yet bounded in practice: a feed task with items waits
        // for its reply while holding its concurrency slot, so at most
        // `poll.concurrency` feeds' items are queued; a 304 or a failure is
        // a few strings, at most one per feed of the poll.
        let (queue, rx) = mpsc::unbounded_channel();
        (Writer { queue }, tokio::spawn(run(db, config, rx)))
    }

    /// Stores one feed's items (with the others waiting) and matches them,
    /// but for those held for their articles.
    pub async fn store(&self, parsed: Parsed) -> Result<Written, WriteError> {
        self.ask(Work::Stored(parsed)).await
    }

    /// Stores the articles of held items and matches the items.
    pub async fn articles(
        &self,
        feed: String,
        items: Vec<(i64, Item)>,
        tally: ArticleTally,
    ) -> Result<IngestReport, WriteError> {
        let work = Work::Articles { feed, items, tally };
        self.ask(work).await.map(|w| w.report)
    }

    async fn ask(&self, work: Work) -> Result<Written, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((work, Some(reply)))
            .map_err(|_| WriteError::Stopped)?;
        answer.await.map_err(|_| WriteError::Stopped)?
    }

    /// Records a 304 with the other work waiting, without waiting for it:
    /// the feed's task is done (and frees its slot for the next feed).
    /// Waiting made a poll where nothing changed a string of tiny
    /// transactions.
    pub fn not_modified(&self, feed: String, url: String) {
        self.send(Work::NotModified { feed, url });
    }

    /// Records a feed's failure and its backoff with the other work waiting.
    pub fn failed(&self, feed: &FeedConfig, error: &FeedError) {
        self.send(Work::Failed {
            feed: feed.name.clone(),
            url: feed.url.to_string(),
            status: error.status(),
            error: error.to_string(),
            retry_after: error.retry_after(),
        });
    }

    fn send(&self, work: Work) {
        if let Err(mpsc::error::SendError((work, _))) = self.queue.send((work, None)) {
            tracing::error!(feed = %work.feed(), "the store writer has stopped; the feed's state is not recorded");
        }
    }
}

/// Writes what comes until every `Writer` is dropped; the last error of a
/// write, if any failed (the store's health: `health`).
async fn run(
    db: Db,
    config: Arc<Config>,
    mut rx: mpsc::UnboundedReceiver<(Work, Reply)>,
) -> Option<WriteError> {
    let mut last_error = None;
    while let Some(first) = rx.recv().await {
        let mut weight = first.0.weight();
        let mut group = vec![first];
        while weight < MAX_GROUP_ITEMS {
            let Ok(next) = rx.try_recv() else { break };
            weight += next.0.weight();
            group.push(next);
        }
        let (work, replies): (Vec<Work>, Vec<Reply>) = group.into_iter().unzip();
        let config = Arc::clone(&config);
        let results = match db.call(move |s| Ok(write_group(s, &config, &work))).await {
            Ok(results) => results,
            Err(e) => {
                tracing::error!(error = %e, "the store writer could not write a group");
                let e = WriteError::from(e);
                replies.iter().map(|_| Err(e.clone())).collect()
            }
        };
        // The feed's task may be gone (shutdown): nothing to tell then.
        for (reply, result) in replies.into_iter().zip(results) {
            if let Err(e) = &result {
                last_error = Some(e.clone());
            }
            if let Some(reply) = reply {
                let _ = reply.send(result);
            }
        }
    }
    last_error
}

/// Writes one group; one result per piece of work, in order. Nobody waits
/// for a 304's or a failure's outcome: a failure to write one is said here.
fn write_group(
    s: &mut crate::store::Store,
    config: &Config,
    work: &[Work],
) -> Vec<Result<Written, WriteError>> {
    let now = Utc::now();
    let retry_at: Vec<RetryAt> = work.iter().map(|w| retry_at(w, now)).collect();
    let group: Vec<Write<'_>> = work
        .iter()
        .zip(&retry_at)
        .map(|(w, retry_at)| to_write(w, retry_at.as_ref(), now))
        .collect();
    let results = s.write_group(&group, &config.rules);
    work.iter()
        .zip(results)
        .map(|(w, result)| {
            if let (Err(e), Work::NotModified { .. } | Work::Failed { .. }) = (&result, w) {
                tracing::error!(feed = %w.feed(), error = %e, "cannot record the feed's state");
            }
            let report = result.map_err(WriteError::from)?;
            Ok(Written {
                held: held_items(w, &report),
                report,
            })
        })
        .collect()
}

/// The items of `w` the store held for their articles, by their places
/// in the fetch.
fn held_items(w: &Work, report: &IngestReport) -> Vec<(i64, Item)> {
    let Work::Stored(p) = w else {
        return Vec::new();
    };
    report
        .held
        .iter()
        .filter_map(|(index, id)| Some((*id, p.items.get(*index)?.clone())))
        .collect()
}

/// When a feed may be tried again, given how many times in a row it failed.
type RetryAt = Box<dyn Fn(i64) -> DateTime<Utc> + Sync>;

/// A failure's backoff (docs/fetching.md, "Fetching"), from now.
fn retry_at(w: &Work, now: DateTime<Utc>) -> RetryAt {
    match w {
        Work::Failed {
            status,
            retry_after,
            ..
        } => {
            let (status, retry_after) = (*status, *retry_after);
            Box::new(move |failures| now + backoff(failures, status, retry_after))
        }
        _ => Box::new(move |_| now),
    }
}

/// A piece of work as the store takes it.
fn to_write<'a>(
    w: &'a Work,
    retry_at: &'a (dyn Fn(i64) -> DateTime<Utc> + Sync),
    now: DateTime<Utc>,
) -> Write<'a> {
    match w {
        Work::Stored(p) => Write::Stored(Batch {
            feed: &p.feed,
            url: &p.url,
            status: Some(p.status),
            validators: &p.validators,
            items: &p.items,
            backfill_cutoff: p.backfill_cutoff,
            moved_to: p.moved_to.as_deref(),
            not_before: p.not_before,
            now,
            articles: ArticleTally::default(),
            hold_for_articles: p.hold_for_articles,
        }),
        Work::Articles { feed, items, tally } => Write::Articles(Articles {
            feed,
            items,
            tally: tally.clone(),
            now,
        }),
        Work::NotModified { feed, url } => Write::NotModified { feed, url, now },
        Work::Failed {
            feed,
            url,
            status,
            error,
            ..
        } => Write::Failed(Failure {
            feed,
            url,
            status: *status,
            error,
            now,
            retry_at,
        }),
    }
}
