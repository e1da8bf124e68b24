//! Store, poll side: one transaction per group of feeds inserts each feed's
//! items never seen before (by feed and item key, or by canonical link when
//! a site changed its ids) and saves its HTTP validators, then matches just
//! the group's new rows (`matching`) and records the pending matches — so
//! an item is "new" exactly once, whatever crashes (docs/DESIGN.md §1;
//! docs/digests.md, "What is new"). Grouping is for speed: FTS5 writes a segment at
//! every commit and a query costs the same on 50 rows as on 2,000, so a
//! poll of 1,000 feeds that commits and matches feed by feed spends most of
//! its time there (docs/performance.md, "Performance").

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::codec::Packer;
use super::feeds::{mark_not_modified, record_failure, upsert_feed};
use super::held::{Articles, finish, hold};
use super::matching::{Candidate, Found, match_candidates};
use super::{Result, Store, to_ts};
use crate::model::{ArticleTally, CompiledRule, IngestReport, Item, Validators};

/// What one successful fetch of a feed brought, for `Store::ingest`.
#[derive(Clone)]
pub struct Batch<'a> {
    pub feed: &'a str,
    pub url: &'a str,
    pub status: Option<u16>,
    pub validators: &'a Validators,
    pub items: &'a [Item],
    /// On a feed's first fetch, only items published after this may alert.
    /// `None` lets every item of the first fetch alert.
    pub backfill_cutoff: Option<DateTime<Utc>>,
    /// Where the feed's URL redirected permanently on this fetch, if it did
    /// (the same target again counts one more confirmation).
    pub moved_to: Option<&'a str>,
    /// Not to be fetched again before this (Cache-Control max-age, `<ttl>`).
    pub not_before: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
    /// The articles fetched for the new items (`full_text` feeds), counted
    /// on the feed's row.
    pub articles: ArticleTally,
    /// A `full_text` feed: its new items that may alert and link to a page
    /// are held for their articles (`held`), not matched yet.
    pub hold_for_articles: bool,
}

impl<'a> Batch<'a> {
    /// A plain 200 fetch of `feed` from `url` at `now`: no validators, no
    /// backfill limit, no redirect, no articles; callers change the fields
    /// they are about.
    pub fn new(feed: &'a str, url: &'a str, items: &'a [Item], now: DateTime<Utc>) -> Self {
        static NO_VALIDATORS: Validators = Validators {
            etag: None,
            last_modified: None,
        };
        Batch {
            feed,
            url,
            status: Some(200),
            validators: &NO_VALIDATORS,
            items,
            backfill_cutoff: None,
            moved_to: None,
            not_before: None,
            now,
            articles: ArticleTally::default(),
            hold_for_articles: false,
        }
    }
}

/// A failed fetch or parse, recorded on the feed (shown in `status`) with
/// when it may be tried again.
pub struct Failure<'a> {
    pub feed: &'a str,
    pub url: &'a str,
    pub status: Option<u16>,
    pub error: &'a str,
    pub now: DateTime<Utc>,
    /// When to try again, given how many times in a row it has now failed.
    pub retry_at: &'a (dyn Fn(i64) -> DateTime<Utc> + Sync),
}

/// One piece of what a poll writes.
pub enum Write<'a> {
    /// A fetch with items: store the new ones, match them, save validators.
    Stored(Batch<'a>),
    /// A 304: nothing to parse, the feed is healthy.
    NotModified {
        feed: &'a str,
        url: &'a str,
        now: DateTime<Utc>,
    },
    /// A failure, with its backoff.
    Failed(Failure<'a>),
    /// Held items with their articles read (or failed): store the articles,
    /// match the items.
    Articles(Articles<'a>),
}

impl Write<'_> {
    fn feed(&self) -> &str {
        match self {
            Write::Stored(b) => b.feed,
            Write::NotModified { feed, .. } => feed,
            Write::Failed(f) => f.feed,
            Write::Articles(a) => a.feed,
        }
    }
}

impl Store {
    /// Stores one fetch's items, matches the new ones with the rules that
    /// apply to the feed, saves the validators.
    pub fn ingest(&mut self, batch: &Batch<'_>, rules: &[CompiledRule]) -> Result<IngestReport> {
        Ok(self
            .write_all(std::slice::from_ref(&Write::Stored(batch.clone())), rules)?
            .pop()
            .unwrap_or_default())
    }

    /// `ingest` for several feeds, in one transaction and one matching pass.
    pub fn ingest_many(
        &mut self,
        batches: &[Batch<'_>],
        rules: &[CompiledRule],
    ) -> Vec<Result<IngestReport>> {
        let group: Vec<Write<'_>> = batches.iter().map(|b| Write::Stored(b.clone())).collect();
        self.write_group(&group, rules)
    }

    /// Writes everything a poll has for the store at this moment — new
    /// items (matched), 304s, failures with their backoff — in one
    /// transaction and one matching pass. Each piece gets its own result:
    /// when the group cannot be written it is rolled back and each piece is
    /// written alone, so that one feed's failure stays that feed's. (Not a
    /// savepoint per feed: FTS5 flushes its pending index at every
    /// savepoint, which cost a fifth of the time.)
    pub fn write_group(
        &mut self,
        group: &[Write<'_>],
        rules: &[CompiledRule],
    ) -> Vec<Result<IngestReport>> {
        match self.write_all(group, rules) {
            Ok(reports) => reports.into_iter().map(Ok).collect(),
            Err(e) if group.len() == 1 => vec![Err(e)],
            Err(e) => {
                tracing::debug!(error = %e, pieces = group.len(), "group write failed; writing piece by piece");
                group
                    .iter()
                    .map(|w| {
                        self.write_all(std::slice::from_ref(w), rules)
                            .map(|mut r| r.pop().unwrap_or_default())
                    })
                    .collect()
            }
        }
    }

    /// All of `group` in one transaction, or nothing.
    fn write_all(
        &mut self,
        group: &[Write<'_>],
        rules: &[CompiledRule],
    ) -> Result<Vec<IngestReport>> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.prepare_cached(FTS_STAGE)?.execute([])?;
        let (mut reports, candidates) = write_pieces(&tx, group, &mut self.packer)?;
        // A group with nothing new (all 304s, or only known items) makes
        // no matcher and indexes nothing: per feed, a no-change poll
        // writes its feed's row and no more.
        let found = if candidates.is_empty() {
            Vec::new()
        } else {
            let feeds: Vec<&str> = group.iter().map(Write::feed).collect();
            let started = std::time::Instant::now();
            let matcher = super::live_matcher(&mut self.matcher, &self.replay)?;
            // Matched before they are indexed: the matcher's tokens of each
            // text it read are recorded, and the index takes them (one
            // tokenisation per item, `tokenizer::Replay`).
            self.replay.clear();
            let found = match_candidates(matcher, &feeds, &candidates, rules, Some(&self.replay))?;
            self.matching += started.elapsed();
            found
        };
        let staged: bool = tx
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM temp.fts_new)")?
            .query_row([], |r| r.get(0))?;
        // One statement for the whole group, so that it becomes one FTS5
        // segment (see 006_fts_by_group.sql); from the plain text staged
        // beside the packed rows, not from `items`, which would unpack what
        // was just packed.
        let indexed = if staged {
            tx.prepare_cached(
                "INSERT INTO items_fts(rowid, title, summary, author, category, feed)
                 SELECT id, title, summary, author, category, feed FROM temp.fts_new",
            )
            .and_then(|mut insert| insert.execute([]))
            .and_then(|_| tx.prepare_cached("DELETE FROM temp.fts_new")?.execute([]))
        } else {
            Ok(0)
        };
        // Taken or not, the recordings were this group's only.
        self.replay.clear();
        indexed?;
        record_matches(&tx, group, &found, &mut reports)?;
        tx.commit()?;
        Ok(reports)
    }
}

/// Each piece of the group on its feed's row (and its new items in the
/// archive); the new items that may alert, to be matched.
fn write_pieces<'a>(
    conn: &Connection,
    group: &[Write<'a>],
    packer: &mut Packer,
) -> Result<(Vec<IngestReport>, Vec<Candidate<'a>>)> {
    let mut reports = Vec::with_capacity(group.len());
    let mut candidates = Vec::new();
    for (i, w) in group.iter().enumerate() {
        let mut report = IngestReport::default();
        match w {
            Write::Stored(b) => {
                let stored = store_batch(conn, b, packer)?;
                report.new_items = stored.new_items;
                for (item_id, index, item) in stored.alerting {
                    if b.hold_for_articles && has_page(item) {
                        hold(conn, item_id, b.now)?;
                        report.held.push((index, item_id));
                    } else {
                        candidates.push(Candidate {
                            item_id,
                            item,
                            batch: i,
                        });
                    }
                }
            }
            Write::Articles(a) => {
                // Only the items still held: another process may have
                // finished some (two polls after a crash).
                let released = finish(conn, a, packer)?;
                candidates.extend(
                    a.items
                        .iter()
                        .zip(released)
                        .filter(|(_, released)| *released)
                        .map(|((item_id, item), _)| Candidate {
                            item_id: *item_id,
                            item,
                            batch: i,
                        }),
                );
            }
            Write::NotModified { feed, url, now } => mark_not_modified(conn, feed, url, *now)?,
            Write::Failed(f) => record_failure(conn, f)?,
        }
        reports.push(report);
    }
    Ok((reports, candidates))
}

/// The pending matches, counted in their feed's report once per item.
fn record_matches(
    conn: &Connection,
    group: &[Write<'_>],
    found: &[Found<'_>],
    reports: &mut [IngestReport],
) -> Result<()> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO matches(item_id, rule, digest, snippet, title_marked, created_at, in_article, rule_snippet)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT(item_id, rule) DO NOTHING",
    )?;
    let mut counted = HashSet::new();
    for m in found {
        let now = match group.get(m.batch) {
            Some(Write::Stored(b)) => b.now,
            Some(Write::Articles(a)) => a.now,
            _ => Utc::now(),
        };
        insert.execute(params![
            m.item_id,
            m.rule.name,
            m.rule.digest,
            m.snippet,
            m.title,
            to_ts(now),
            m.in_article,
            m.rule_snippet
        ])?;
        if counted.insert(m.item_id)
            && let Some(report) = reports.get_mut(m.batch)
        {
            report.matched_items += 1;
        }
    }
    Ok(())
}

/// One feed's part of `ingest_many`: its new rows, its feed row.
struct Stored<'a> {
    new_items: usize,
    /// The new items that may alert (backfill), with their row ids and
    /// their places in the fetch.
    alerting: Vec<(i64, usize, &'a Item)>,
}

/// One fetch's items and validators on the feed's row.
fn store_batch<'a>(conn: &Connection, b: &Batch<'a>, packer: &mut Packer) -> Result<Stored<'a>> {
    let feed_id = upsert_feed(conn, b.feed, b.url)?;
    let first_fetch: bool = conn.query_row(
        "SELECT first_fetch_at IS NULL FROM feeds WHERE id = ?1",
        [feed_id],
        |r| r.get(0),
    )?;
    let fresh = insert_new_items(conn, feed_id, b, packer)?;
    let new_items = fresh.len();
    let alerting: Vec<_> = fresh
        .into_iter()
        .filter(|(_, _, item)| may_alert(first_fetch, b.backfill_cutoff, item.published))
        .collect();
    conn.execute(
        "UPDATE feeds SET etag = ?2, last_modified = ?3, first_fetch_at = coalesce(first_fetch_at, ?4),
         last_fetch_at = ?4, last_success_at = ?4, last_status = ?5, last_error = NULL, consecutive_errors = 0, failing_since = NULL,
         next_fetch_at = ?6,
         moved_count = CASE WHEN ?7 IS NULL THEN 0 WHEN moved_to IS ?7 THEN moved_count + 1 ELSE 1 END,
         moved_to = ?7,
         articles_fetched = articles_fetched + ?8, articles_failed = articles_failed + ?9,
         last_article_error = coalesce(?10, last_article_error),
         articles_unread = articles_unread + ?9, items_checked = items_checked + ?11,
         polls_ok = polls_ok + 1
         WHERE id = ?1",
        params![
            feed_id,
            b.validators.etag,
            b.validators.last_modified,
            to_ts(b.now),
            b.status,
            b.not_before.map(to_ts),
            b.moved_to,
            b.articles.fetched,
            b.articles.failed,
            b.articles.last_error,
            // Checked against the rules (now, or once their articles are
            // read): what a digest's coverage counts (`coverage`).
            alerting.len() as i64
        ],
    )?;
    Ok(Stored {
        new_items,
        alerting,
    })
}

/// Inserts the fetch's items this feed has never had; returns them with
/// their row ids and their places in the fetch.
fn insert_new_items<'a>(
    conn: &Connection,
    feed_id: i64,
    b: &Batch<'a>,
    packer: &mut Packer,
) -> Result<Vec<(i64, usize, &'a Item)>> {
    let shared = links_shared(b.items);
    let mut keys_with_link = conn.prepare_cached(KEYS_WITH_LINK)?;
    let mut remember = conn.prepare_cached(
        "INSERT INTO seen(feed_id, key, link) VALUES (?1, ?2, ?3) ON CONFLICT(feed_id, key) DO NOTHING",
    )?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO items(feed_id, link, title, packed, author, category, feed, published, fetched_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    let mut stage = conn.prepare_cached(STAGE_FOR_INDEX)?;
    let mut fresh = Vec::new();
    for (index, item) in b.items.iter().enumerate() {
        if known_by_link(&mut keys_with_link, feed_id, item, &shared)? {
            continue;
        }
        // Identities are never pruned: seen once, never new again.
        if remember.execute(params![feed_id, item.key, item.link])? == 0 {
            continue;
        }
        let summary = item.full_summary();
        insert.execute(params![
            feed_id,
            item.link,
            item.title,
            packer.pack(&summary),
            item.author,
            item.category,
            b.feed,
            item.published.map(to_ts),
            to_ts(b.now),
        ])?;
        let id = conn.last_insert_rowid();
        stage.execute(index_row(id, item, &summary, b.feed))?;
        fresh.push((id, index, item));
    }
    Ok(fresh)
}

/// Stages a row's text for the archive's FTS5 index (`index_row`).
pub(super) const STAGE_FOR_INDEX: &str = "INSERT INTO temp.fts_new(id, title, summary, author, category, feed) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

/// The columns of the archive's index for item `id` of `feed`, with
/// `summary` as its text: what is staged, and what deleting its entry names.
pub(super) fn index_row<'a>(
    id: i64,
    item: &'a Item,
    summary: &'a str,
    feed: &'a str,
) -> (i64, &'a str, &'a str, &'a str, &'a str, &'a str) {
    (id, &item.title, summary, &item.author, &item.category, feed)
}

/// The group's new items in plain text, waiting for the archive's FTS5
/// index (in memory: `temp_store` is set when the store opens).
const FTS_STAGE: &str = "CREATE TEMP TABLE IF NOT EXISTS fts_new(id INTEGER PRIMARY KEY, \
     title TEXT, summary TEXT, author TEXT, category TEXT, feed TEXT);";

/// How many known items of a feed have a link (0, 1, or 2 for more).
const KEYS_WITH_LINK: &str =
    "SELECT count(*) FROM (SELECT 1 FROM seen WHERE feed_id = ?1 AND link = ?2 LIMIT 2)";

/// docs/digests.md, "What is new": an item whose id changed but whose canonical link
/// is known in this feed is the same item — when the link identifies one
/// item: it is this fetch's only item with that link, and one known item
/// has it.
fn known_by_link(
    keys_with_link: &mut rusqlite::CachedStatement<'_>,
    feed_id: i64,
    item: &Item,
    shared: &HashSet<&str>,
) -> Result<bool> {
    Ok(match &item.link {
        Some(link) if !shared.contains(link.as_str()) => {
            keys_with_link.query_row(params![feed_id, link], |r| r.get::<_, i64>(0))? == 1
        }
        _ => false,
    })
}

/// Whether an item links to a page whose article can be read.
fn has_page(item: &Item) -> bool {
    item.link
        .as_deref()
        .is_some_and(|l| l.starts_with("http://") || l.starts_with("https://"))
}

/// On a feed's first fetch, only items published after the cutoff may
/// alert (docs/digests.md, "What is new": backfill); after it, every new item.
/// `explain` says it with the same rule.
pub fn may_alert(
    first_fetch: bool,
    cutoff: Option<DateTime<Utc>>,
    published: Option<DateTime<Utc>>,
) -> bool {
    !first_fetch || cutoff.is_none_or(|cut| published.is_some_and(|p| p > cut))
}

/// Links that several of this fetch's items share (a status page, an
/// agency's front page): they identify no single item.
fn links_shared(items: &[Item]) -> HashSet<&str> {
    let mut keys_per_link: HashMap<&str, HashSet<&str>> = HashMap::new();
    for item in items {
        if let Some(link) = &item.link {
            keys_per_link.entry(link).or_default().insert(&item.key);
        }
    }
    keys_per_link
        .into_iter()
        .filter(|(_, keys)| keys.len() > 1)
        .map(|(link, _)| link)
        .collect()
}
