//! Pipeline: full text of teaser feeds (docs/fetching.md, "Full text"). For a
//! `full_text` feed, the items of a fetch that the store held for their
//! articles — new, past the backfill of a feed's first fetch, with a link —
//! get the text of the article their link leads to, after they are stored
//! and outside the poll's slots; then they are matched. Item links are feed
//! data: they are fetched through the guard, http(s) only, under
//! `max_article`, politely (`Hosts`), and all of a feed's articles within
//! `article_wait`. A page is bounded before it is parsed, and parsed on a
//! thread of its own within `article_parse_time`; the attempt is recorded
//! first, so a page that crashed the process is never parsed again. An
//! article that fails costs only itself: its item is matched on what the
//! feed gave, and the failure is counted on the feed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use url::Url;

use super::Context;
use crate::config::FeedConfig;
use crate::fetch::{FetchError, FetchOutcome, Fetched, Fetcher};
use crate::model::{ArticleTally, Item, PageLimits};

/// How long a host that answered 429 or 503 without Retry-After is left
/// alone.
const DEFAULT_HOLD_OFF: Duration = Duration::from_secs(60);

/// The longest a Retry-After holds a host off: a site cannot stop its
/// articles for longer than a day (or overflow the clock with a huge one).
const MAX_HOLD_OFF: Duration = Duration::from_secs(86_400);

/// Politeness towards the hosts articles come from, kept across polls (a
/// Retry-After outlives the poll that got it, and the process: it is
/// stored): at most `per_host` requests at once to one host, and `delay`
/// between the starts of two. A host nobody waits for and whose time has
/// come is forgotten, so the table holds only the hosts of the moment.
pub struct Hosts {
    per_host: usize,
    delay: Duration,
    hosts: Mutex<HashMap<String, Arc<Host>>>,
}

struct Host {
    slots: Arc<Semaphore>,
    /// When the next request to the host may start.
    next: tokio::sync::Mutex<Instant>,
}

impl Hosts {
    pub fn new(per_host: usize, delay: Duration) -> Self {
        Hosts {
            per_host,
            delay,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    /// Takes in the hold-offs stored by this or another process (a `poll`
    /// run by cron): at the start of each poll, a query of a few rows.
    pub async fn load(&self, db: &crate::store::Db) {
        let now = chrono::Utc::now();
        match db.call(move |s| s.article_holds(now)).await {
            Ok(holds) => {
                for (host, until) in holds {
                    let wait = (until - now).to_std().unwrap_or_default();
                    self.hold_here(&host, wait).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the article hosts' hold-offs"),
        }
    }

    fn host(&self, name: &str) -> Arc<Host> {
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        if !hosts.contains_key(name) {
            let now = Instant::now();
            let per_host = self.per_host;
            hosts.retain(|_, h| !h.idle(per_host, now));
        }
        Arc::clone(hosts.entry(name.to_string()).or_insert_with(|| {
            Arc::new(Host {
                slots: Arc::new(Semaphore::new(self.per_host)),
                next: tokio::sync::Mutex::new(Instant::now()),
            })
        }))
    }

    /// How many hosts are remembered (for the test of forgetting).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.hosts.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Waits for the host's turn; an error when it would come after
    /// `deadline`.
    async fn turn(&self, name: &str, deadline: Instant) -> Result<OwnedSemaphorePermit, String> {
        let host = self.host(name);
        let out_of_time = || "the poll's time for articles (article_wait) ran out".to_string();
        let slot = tokio::time::timeout_at(deadline, Arc::clone(&host.slots).acquire_owned())
            .await
            .map_err(|_| out_of_time())?
            .map_err(|e| e.to_string())?;
        let mut next = tokio::time::timeout_at(deadline, host.next.lock())
            .await
            .map_err(|_| out_of_time())?;
        if *next > deadline {
            return Err(out_of_time());
        }
        tokio::time::sleep_until(*next).await;
        *next = Instant::now() + self.delay;
        Ok(slot)
    }

    /// The host asked to be left alone for `wait` (429, 503): here, and in
    /// the store for the next process.
    async fn hold_off(&self, db: &crate::store::Db, name: &str, wait: Duration) {
        let wait = wait.min(MAX_HOLD_OFF);
        self.hold_here(name, wait).await;
        let now = chrono::Utc::now();
        let until = now + chrono::Duration::from_std(wait).unwrap_or_default();
        let host = name.to_string();
        if let Err(e) = db
            .call(move |s| s.hold_article_host(&host, until, now))
            .await
        {
            tracing::warn!(host = %name, error = %e, "cannot store the host's hold-off");
        }
    }

    async fn hold_here(&self, name: &str, wait: Duration) {
        let until = Instant::now() + wait.min(MAX_HOLD_OFF);
        let host = self.host(name);
        let mut next = host.next.lock().await;
        *next = (*next).max(until);
    }
}

impl Host {
    /// Nobody holds or waits for a slot, and its next turn has come.
    fn idle(self: &Arc<Self>, per_host: usize, now: Instant) -> bool {
        Arc::strong_count(self) == 1
            && self.slots.available_permits() == per_host
            && self.next.try_lock().is_ok_and(|next| *next <= now)
    }
}

/// Whether the articles of `feed`'s items are read: a `full_text` feed
/// that some rule reads (an article no rule will read is not fetched).
pub(super) fn wanted(ctx: &Context, feed: &FeedConfig) -> bool {
    feed.full_text && ctx.config.rules.iter().any(|r| r.applies_to(&feed.name))
}

/// Reads the articles of the held `items` of `feed` (each with its row
/// id) into `Item::article`, all by `deadline`; the items back,
/// and what became of their articles, to count on the feed. Items of one
/// fetch that share a link share its page: read once. An article that
/// fails costs only itself: its item is matched on the feed's text.
pub(super) async fn read_held(
    ctx: &Context,
    feed: &str,
    mut items: Vec<(i64, Item)>,
    deadline: Instant,
) -> (Vec<(i64, Item)>, ArticleTally) {
    let mut tally = ArticleTally::default();
    let fetcher = ctx
        .fetcher
        .with_max_body(ctx.config.poll.max_article, "max_article")
        .with_firm_deadline();
    // Each link once, in the feed's order, with the items that share it.
    let mut links: Vec<(String, Vec<i64>)> = Vec::new();
    let mut place: HashMap<&str, usize> = HashMap::new();
    for (id, item) in &items {
        let Some(link) = item.link.as_deref() else {
            continue;
        };
        let at = *place.entry(link).or_insert_with(|| {
            links.push((link.to_string(), Vec::new()));
            links.len() - 1
        });
        links[at].1.push(*id);
    }
    drop(place);
    let mut texts: HashMap<String, Option<String>> = HashMap::new();
    for (link, ids) in links {
        let text = match article(ctx, &fetcher, &link, ids, deadline).await {
            Ok(text) => {
                tally.fetched += 1;
                Some(text)
            }
            Err(why) => {
                tally.failed += 1;
                tracing::info!(feed = %feed, link = %link, error = %why, "no article text; the item is matched on the feed's text");
                tally.last_error = Some(format!("{link}: {why}"));
                None
            }
        };
        // Progress: the daemon's stall check counts articles too.
        ctx.heartbeat.beat();
        texts.insert(link, text);
    }
    for (_, item) in items.iter_mut() {
        if let Some(text) = item.link.as_ref().and_then(|l| texts.get(l)) {
            item.article.clone_from(text);
        }
    }
    (items, tally)
}

/// Held items are orphans when they were held longer ago than any poll
/// reads articles: `article_wait`, and this margin for the last parse and
/// the store.
const ORPHAN_MARGIN: Duration = Duration::from_secs(60);

/// Finishes the items that an earlier poll held for their articles and
/// left (a crash, a stop), of every feed: a page whose parse had begun is
/// not read again (it may be what crashed), nor an item whose stored text
/// is damaged or whose feed no longer reads articles (or is gone); the
/// others are read now, all by one deadline; then each item is matched.
/// An error only when the store could not be read or written.
pub(super) async fn finish_orphans(
    ctx: &Context,
    writer: &super::writer::Writer,
) -> Result<(), super::WriteError> {
    let now = chrono::Utc::now();
    let age = chrono::Duration::from_std(ctx.config.poll.article_wait + ORPHAN_MARGIN)
        .unwrap_or_default();
    let orphans = ctx
        .db
        .call(move |s| s.claim_orphans(now - age, now))
        .await?;
    let deadline = Instant::now() + ctx.config.poll.article_wait;
    let mut feeds: Vec<&str> = orphans.iter().map(|o| o.feed.as_str()).collect();
    feeds.dedup();
    for name in feeds {
        let config = ctx.config.feeds.iter().find(|f| f.name == name);
        let reads = config.is_some_and(|f| wanted(ctx, f));
        let mut tally = ArticleTally::default();
        let mut items = Vec::new();
        let mut to_read = Vec::new();
        for o in orphans.iter().filter(|o| o.feed == name) {
            if o.attempted {
                tally.failed += 1;
                tally.last_error = Some(format!(
                    "{}: not read again: the reader did not finish this page last time (feedwatch stopped or crashed while reading it)",
                    o.item.link.as_deref().unwrap_or("")
                ));
            }
            if o.attempted || o.unreadable || !reads {
                items.push((o.item_id, o.item.clone()));
            } else {
                to_read.push((o.item_id, o.item.clone()));
            }
        }
        if !to_read.is_empty() {
            let (read, read_tally) = read_held(ctx, name, to_read, deadline).await;
            items.extend(read);
            tally.fetched += read_tally.fetched;
            tally.failed += read_tally.failed;
            tally.last_error = read_tally.last_error.or(tally.last_error);
        }
        let n = items.len();
        let r = writer.articles(name.to_string(), items, tally).await?;
        tracing::info!(feed = %name, items = n, matched_items = r.matched_items, "items an earlier poll left unfinished are matched");
    }
    Ok(())
}

/// One article's text, in the host's turn. The attempt is recorded on the
/// held items `ids` before the page is parsed.
async fn article(
    ctx: &Context,
    fetcher: &Fetcher,
    link: &str,
    ids: Vec<i64>,
    deadline: Instant,
) -> Result<String, String> {
    let url = Url::parse(link).map_err(|e| e.to_string())?;
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    // The poll's article slots: its feeds' articles are read outside the
    // feeds' own slots, but no more at once than feeds are fetched.
    let _poll_slot =
        tokio::time::timeout_at(deadline, Arc::clone(&ctx.article_slots).acquire_owned())
            .await
            .map_err(|_| "the poll's time for articles (article_wait) ran out".to_string())?
            .map_err(|e| e.to_string())?;
    let _slot = ctx.hosts.turn(&host, deadline).await?;
    let attempt = Attempt {
        db: &ctx.db,
        item_ids: ids,
    };
    match read_article(
        fetcher,
        Reader::of(&ctx.config),
        &url,
        Some(attempt),
        deadline,
    )
    .await
    {
        Ok(text) => Ok(text),
        Err(Failure { why, hold_off }) => {
            if let Some(wait) = hold_off {
                ctx.hosts.hold_off(&ctx.db, &host, wait).await;
            }
            Err(why)
        }
    }
}

/// The held items whose page is about to be parsed: the attempt is
/// recorded first, so that a page that crashes the reader is not parsed
/// again after a restart (`store::held`).
pub(super) struct Attempt<'a> {
    db: &'a crate::store::Db,
    item_ids: Vec<i64>,
}

impl Attempt<'_> {
    async fn record(self) -> Result<(), Failure> {
        let ids = self.item_ids;
        self.db
            .call(move |s| s.article_attempted(&ids, chrono::Utc::now()))
            .await
            .map_err(|e| Failure::from(format!("not read: cannot record the attempt ({e})")))
    }
}

/// Why an article gave no text, and how long its host asked to be left
/// alone (429, 503).
pub(super) struct Failure {
    pub why: String,
    hold_off: Option<Duration>,
}

impl From<String> for Failure {
    fn from(why: String) -> Self {
        Failure {
            why,
            hold_off: None,
        }
    }
}

/// Fetches the article at `url` (feed data: judged by the guard at every
/// hop) within the reader's timeout, and reads its text; all of it by
/// `deadline`. Politeness is the caller's.
pub(super) async fn read_article(
    fetcher: &Fetcher,
    reader: Reader,
    url: &Url,
    attempt: Option<Attempt<'_>>,
    deadline: Instant,
) -> Result<String, Failure> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Failure::from("not an http(s) link".to_string()));
    }
    let fetch_by = deadline.min(Instant::now() + reader.timeout);
    let page = match fetcher.fetch_link(url, fetch_by).await {
        Ok(FetchOutcome::Fetched(page)) => page,
        Ok(FetchOutcome::NotModified) => {
            return Err(Failure::from("HTTP 304 to a plain request".to_string()));
        }
        Err(
            e @ FetchError::Status {
                status,
                retry_after,
            },
        ) => {
            return Err(Failure {
                why: e.to_string(),
                hold_off: matches!(status, 429 | 503)
                    .then(|| retry_after.unwrap_or(DEFAULT_HOLD_OFF)),
            });
        }
        Err(e) => return Err(Failure::from(e.to_string())),
    };
    if let Some(attempt) = attempt {
        attempt.record().await?;
    }
    parse_article(page, reader, deadline).await
}

/// How an article page is read: the bounds it must keep, and how long its
/// parse may take (docs/fetching.md, "Full text").
#[derive(Debug, Clone, Copy)]
pub(super) struct Reader {
    pub limits: PageLimits,
    pub parse_time: Duration,
    /// The longest the request may take (`[poll] timeout`).
    pub timeout: Duration,
}

impl Reader {
    pub fn of(config: &crate::config::Config) -> Self {
        Reader {
            limits: config.poll.article_limits,
            parse_time: config.poll.article_parse_time,
            timeout: config.poll.timeout,
        }
    }
}

/// One article page is parsed at a time in the whole process: a page's tree
/// takes many times its size (about 70× for a page of tiny elements), and
/// eight parsed at once took 268 MB. Parsing takes a few milliseconds, so
/// the queue is short.
static PARSING: Semaphore = Semaphore::const_new(1);

/// The parse's own stack. The bounds keep the tree shallow, but the tree
/// builder adds elements the pre-scan does not count (a table's `tbody`)
/// and the reader walks the tree recursively: a thread of its own with
/// room to spare, so no page can overflow the stack of a worker of the
/// runtime. Only the pages touched are memory.
const PARSE_STACK: usize = 64 << 20;

/// Parses `page` on a thread of its own, within the reader's time and the
/// article's `deadline`. A parse that runs out of time is left to finish
/// on its thread (the bounds make that short) and its result dropped: the
/// poll goes on, and the next article waits for it only within its own
/// deadline.
async fn parse_article(
    page: Box<Fetched>,
    reader: Reader,
    deadline: Instant,
) -> Result<String, Failure> {
    let by = deadline.min(Instant::now() + reader.parse_time);
    let slow = || {
        Failure::from(format!(
            "the page took longer than {} to read (article_parse_time); left unread",
            humantime::format_duration(reader.parse_time)
        ))
    };
    let permit = tokio::time::timeout_at(by, PARSING.acquire())
        .await
        .map_err(|_| slow())?
        .map_err(|e| Failure::from(e.to_string()))?;
    // A blocking task (it keeps paused time from jumping ahead in tests)
    // that waits for the thread with the big stack.
    let parse = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        std::thread::Builder::new()
            .name("article-reader".into())
            .stack_size(PARSE_STACK)
            .spawn(move || {
                crate::parse::article_text(
                    &page.body,
                    page.content_type.as_deref(),
                    &page.final_url,
                    reader.limits,
                )
                .map_err(|e| e.to_string())
            })
            .map_err(|e| format!("cannot start the article reader: {e}"))?
            .join()
            .map_err(|_| "the article reader crashed on this page".to_string())?
    });
    match tokio::time::timeout_at(by, parse).await {
        Err(_) => Err(slow()),
        Ok(Err(e)) => Err(Failure::from(format!("the article reader failed: {e}"))),
        Ok(Ok(text)) => text.map_err(Failure::from),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn requests_to_one_host_are_spaced_and_a_hold_off_is_kept() {
        let hosts = Hosts::new(2, Duration::from_secs(1));
        let start = Instant::now();
        let far = start + Duration::from_secs(3600);
        for n in 0..3u64 {
            let _slot = hosts.turn("news.example", far).await.unwrap();
            assert_eq!(start.elapsed(), Duration::from_secs(n), "request {n}");
        }
        // Another host is not held up by this one.
        let _slot = hosts.turn("blog.example", far).await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        // A Retry-After past the deadline: no wait, an error at once.
        hosts
            .hold_here("news.example", Duration::from_secs(600))
            .await;
        let soon = Instant::now() + Duration::from_secs(30);
        let before = Instant::now();
        assert!(hosts.turn("news.example", soon).await.is_err());
        assert_eq!(before.elapsed(), Duration::ZERO);
        // Within the deadline: waited for.
        let later = Instant::now() + Duration::from_secs(3600);
        let _slot = hosts.turn("news.example", later).await.unwrap();
        assert_eq!(before.elapsed(), Duration::from_secs(600));
        // A Retry-After past any clock is a day.
        hosts.hold_here("huge.example", Duration::MAX).await;
        let start = Instant::now();
        let _slot = hosts
            .turn("huge.example", start + Duration::from_secs(2 * 86_400))
            .await
            .unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(86_400));
    }

    /// The table of hosts held every host articles ever came from; a host
    /// nobody waits for and whose turn has come is forgotten when another
    /// is added, and one still held off is kept.
    #[tokio::test(start_paused = true)]
    async fn hosts_whose_turn_has_come_are_forgotten() {
        let hosts = Hosts::new(2, Duration::from_secs(1));
        let far = Instant::now() + Duration::from_secs(3600);
        for n in 0..100 {
            drop(hosts.turn(&format!("site{n}.example"), far).await.unwrap());
        }
        hosts
            .hold_here("busy.example", Duration::from_secs(600))
            .await;
        assert_eq!(hosts.len(), 101);
        tokio::time::advance(Duration::from_secs(2)).await;
        drop(hosts.turn("new.example", far).await.unwrap());
        assert_eq!(hosts.len(), 2, "busy.example and new.example");
    }
}
