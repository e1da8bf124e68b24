//! Pipeline, store side of a poll: the feeds of one poll are fetched and
//! parsed concurrently, but stored by one writer that takes whatever feeds
//! are waiting and writes them as one group (`Store::ingest_many`: one
//! transaction, one FTS5 segment, one matching pass). While a group is being
//! written the next one gathers, so groups grow exactly when the store is
//! the bottleneck. Per-feed commits were most of a first poll's time (README,
//! Performance). A 304 is a write too (the feed's last fetch), grouped the
//! same way but not waited for. Each feed still gets its own outcome, and
//! the poll ends only when the writer has written everything.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use crate::config::Config;
use crate::model::{IngestReport, Item, Validators};
use crate::store::{Batch, Db};

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
}

enum Work {
    Stored(Parsed),
    NotModified { feed: String, url: String },
}

impl Work {
    /// How much this adds to a group (a 304 is one small update).
    fn weight(&self) -> usize {
        match self {
            Work::Stored(p) => p.items.len().max(1),
            Work::NotModified { .. } => 1,
        }
    }
}

/// Where the outcome goes; `None` when nobody waits for it (a 304), and the
/// writer logs a failure itself.
type Reply = Option<oneshot::Sender<Result<IngestReport, String>>>;

/// A group stops growing at this many items: the scratch table holds a
/// group's text, and a feed waits for its whole group.
const MAX_GROUP_ITEMS: usize = 5_000;

/// The handle the feed tasks of one poll send their results to.
#[derive(Clone)]
pub(super) struct Writer {
    queue: mpsc::UnboundedSender<(Work, Reply)>,
}

impl Writer {
    /// Starts the writer; it ends when every `Writer` clone is dropped.
    pub fn start(db: Db, config: Arc<Config>) -> (Writer, tokio::task::JoinHandle<()>) {
        // Unbounded, yet bounded in practice: a feed task with items waits
        // for its reply while holding its concurrency slot, so at most
        // `poll.concurrency` feeds' items are queued; a 304 is a name and a
        // URL, at most one per feed of the poll.
        let (queue, rx) = mpsc::unbounded_channel();
        (Writer { queue }, tokio::spawn(run(db, config, rx)))
    }

    /// Stores one feed's items (with the others waiting) and matches them.
    pub async fn store(&self, parsed: Parsed) -> Result<IngestReport, String> {
        let stopped = || "the store writer has stopped".to_string();
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((Work::Stored(parsed), Some(reply)))
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Records a 304 with the other work waiting, without waiting for it:
    /// the feed's task is done (and frees its slot for the next feed), the
    /// writer logs a failure to record it, and the poll ends only when the
    /// writer has written everything. Waiting made a poll where nothing
    /// changed a string of tiny transactions.
    pub fn not_modified(&self, feed: String, url: String) {
        if let Err(mpsc::error::SendError((Work::NotModified { feed, .. }, _))) =
            self.queue.send((Work::NotModified { feed, url }, None))
        {
            tracing::error!(feed = %feed, "the store writer has stopped; the 304 is not recorded");
        }
    }
}

async fn run(db: Db, config: Arc<Config>, mut rx: mpsc::UnboundedReceiver<(Work, Reply)>) {
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
                let e = e.to_string();
                replies.iter().map(|_| Err(e.clone())).collect()
            }
        };
        // The feed's task may be gone (shutdown): nothing to tell then.
        for (reply, result) in replies.into_iter().zip(results) {
            if let Some(reply) = reply {
                let _ = reply.send(result);
            }
        }
    }
}

/// Writes one group; one result per piece of work, in order.
fn write_group(
    s: &mut crate::store::Store,
    config: &Config,
    work: &[Work],
) -> Vec<Result<IngestReport, String>> {
    let now = Utc::now();
    let batches: Vec<Batch<'_>> = work
        .iter()
        .filter_map(|w| match w {
            Work::Stored(p) => Some(Batch {
                feed: &p.feed,
                url: &p.url,
                status: Some(p.status),
                validators: &p.validators,
                items: &p.items,
                backfill_cutoff: p.backfill_cutoff,
                moved_to: p.moved_to.as_deref(),
                not_before: p.not_before,
                now,
            }),
            Work::NotModified { .. } => None,
        })
        .collect();
    let not_modified: Vec<(&str, &str)> = work
        .iter()
        .filter_map(|w| match w {
            Work::NotModified { feed, url } => Some((feed.as_str(), url.as_str())),
            Work::Stored(_) => None,
        })
        .collect();
    let mut stored = s.ingest_many(&batches, &config.rules).into_iter();
    let mut unchanged = s.not_modified_many(&not_modified, now).into_iter();
    work.iter()
        .map(|w| {
            let result = match w {
                Work::Stored(_) => stored.next(),
                Work::NotModified { feed, .. } => unchanged.next().map(|r| {
                    // Nobody waits for a 304's outcome: say it here.
                    if let Err(e) = &r {
                        tracing::error!(feed = %feed, error = %e, "cannot record the feed's 304");
                    }
                    r.map(|()| IngestReport::default())
                }),
            };
            result
                .unwrap_or_else(|| Err(crate::store::StoreError::Task("no result".into())))
                .map_err(|e| e.to_string())
        })
        .collect()
}
