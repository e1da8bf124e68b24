//! Pipeline: full text of teaser feeds (README, "Full text"). For a
//! `full_text` feed, each item of a fetch that can alert — new to the
//! store, and past the backfill of a feed's first fetch — gets the text of
//! the article its link leads to, before the items are stored and matched.
//! Item links are feed data: they are fetched through the guard (a public
//! feed's item cannot lead feedwatch inside), http(s) only, under
//! `max_article`, politely (`Hosts`), and all of a feed's articles within
//! `article_wait`. An article that fails costs only itself: its item is
//! matched on what the feed gave, and the failure is counted on the feed.
//! An item is stored once, with or without its article, so an article is
//! never fetched twice.

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
/// Retry-After outlives the poll that got it): at most `per_host` requests
/// at once to one host, and `delay` between the starts of two.
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

    fn host(&self, name: &str) -> Arc<Host> {
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(hosts.entry(name.to_string()).or_insert_with(|| {
            Arc::new(Host {
                slots: Arc::new(Semaphore::new(self.per_host)),
                next: tokio::sync::Mutex::new(Instant::now()),
            })
        }))
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

    /// The host asked to be left alone for `wait` (429, 503).
    async fn hold_off(&self, name: &str, wait: Duration) {
        let until = Instant::now() + wait.min(MAX_HOLD_OFF);
        let host = self.host(name);
        let mut next = host.next.lock().await;
        *next = (*next).max(until);
    }
}

/// Fetches the articles of `items` that would alert, for a `full_text`
/// feed, into `Item::article`; the items back, and what became of their
/// articles, to count on the feed. An error only when the store's thread
/// failed (the items went with it): the poll of the feed fails, nothing of
/// it is stored, and the next poll fetches it again.
pub(super) async fn fill(
    ctx: &Context,
    feed: &FeedConfig,
    from: &Fetched,
    items: Vec<Item>,
    backfill_cutoff: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(Vec<Item>, ArticleTally), crate::store::StoreError> {
    let mut tally = ArticleTally::default();
    // An article no rule will read is not fetched.
    if !feed.full_text || !ctx.config.rules.iter().any(|r| r.applies_to(&feed.name)) {
        return Ok((items, tally));
    }
    let name = feed.name.clone();
    // The items go to the store's thread and come back: no copy of a
    // feed's text just to ask which items are new.
    let (mut items, alerting) = match ctx
        .db
        .call(move |s| {
            let alerting = s.would_alert(&name, &items, backfill_cutoff);
            Ok((items, alerting))
        })
        .await?
    {
        (items, Ok(alerting)) => (items, alerting),
        (items, Err(e)) => {
            tracing::warn!(feed = %feed.name, error = %e, "cannot tell which items are new; no articles fetched");
            return Ok((items, tally));
        }
    };
    let fetcher = ctx
        .fetcher
        .with_max_body(ctx.config.poll.max_article, "max_article")
        .with_firm_deadline();
    let deadline = Instant::now() + ctx.config.poll.article_wait;
    // Items of one fetch that share a link share its page: read once.
    let mut read: HashMap<String, Option<String>> = HashMap::new();
    for i in alerting {
        let Some(link) = items.get(i).and_then(|item| item.link.clone()) else {
            continue;
        };
        if !read.contains_key(&link) {
            let text = match article(ctx, &fetcher, from, &link, deadline).await {
                Ok(text) => {
                    tally.fetched += 1;
                    Some(text)
                }
                Err(why) => {
                    tally.failed += 1;
                    tracing::info!(feed = %feed.name, link = %link, error = %why, "no article text; the item is matched on the feed's text");
                    tally.last_error = Some(format!("{link}: {why}"));
                    None
                }
            };
            // Progress: the daemon's stall check counts articles too.
            ctx.heartbeat.beat();
            read.insert(link.clone(), text);
        }
        if let Some(item) = items.get_mut(i) {
            item.article = read.get(&link).cloned().flatten();
        }
    }
    Ok((items, tally))
}

/// One article's text, in the host's turn.
async fn article(
    ctx: &Context,
    fetcher: &Fetcher,
    from: &Fetched,
    link: &str,
    deadline: Instant,
) -> Result<String, String> {
    let url = Url::parse(link).map_err(|e| e.to_string())?;
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    let _slot = ctx.hosts.turn(&host, deadline).await?;
    match read_article(fetcher, Reader::of(&ctx.config), from, &url, deadline).await {
        Ok(text) => Ok(text),
        Err(Failure { why, hold_off }) => {
            if let Some(wait) = hold_off {
                ctx.hosts.hold_off(&host, wait).await;
            }
            Err(why)
        }
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

/// Fetches the article at `url` (found in what `from` brought: through the
/// guard) within the reader's timeout, and reads its text; all of it by
/// `deadline`. Politeness is the caller's.
pub(super) async fn read_article(
    fetcher: &Fetcher,
    reader: Reader,
    from: &Fetched,
    url: &Url,
    deadline: Instant,
) -> Result<String, Failure> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Failure::from("not an http(s) link".to_string()));
    }
    let fetch_by = deadline.min(Instant::now() + reader.timeout);
    let page = match fetcher.fetch_found(url, from, fetch_by).await {
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
    parse_article(page, reader, deadline).await
}

/// How an article page is read: the bounds it must keep, and how long its
/// parse may take (README, "Full text").
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
async fn parse_article(page: Box<Fetched>, reader: Reader, deadline: Instant) -> Result<String, Failure> {
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
            .hold_off("news.example", Duration::from_secs(600))
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
        hosts.hold_off("huge.example", Duration::MAX).await;
        let start = Instant::now();
        let _slot = hosts
            .turn("huge.example", start + Duration::from_secs(2 * 86_400))
            .await
            .unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(86_400));
    }
}
