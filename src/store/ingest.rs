//! Store, poll side: one transaction per group of feeds inserts each feed's
//! items never seen before (by feed and item key, or by canonical link when
//! a site changed its ids) and saves its HTTP validators, then runs every
//! rule over just the group's new rows in the in-memory FTS5 scratch table
//! and records the pending matches — so an item is "new" exactly once,
//! whatever crashes (docs/DESIGN.md §1; README, "What is new"). Grouping is for speed: FTS5 writes
//! a segment at every commit and a query costs the same on 50 rows as on
//! 2,000, so a poll of 1,000 feeds that commits and matches feed by feed
//! spends most of its time there (README, Performance).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::{Result, Store, StoreError, to_ts};
use crate::model::{CompiledRule, IngestReport, Item, MARK_END, MARK_START, Validators};

/// What a poll needs to know about a feed before fetching it. A feed never
/// stored has the default: no validators, not backing off, not moved.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PollState {
    pub validators: Validators,
    /// Not to be fetched before this (backoff, Retry-After, max-age).
    pub next_fetch_at: Option<DateTime<Utc>>,
    /// Where its URL redirects permanently, and how many fetches in a row
    /// confirmed it.
    pub moved: Option<(String, i64)>,
}

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
}

impl Write<'_> {
    fn feed(&self) -> &str {
        match self {
            Write::Stored(b) => b.feed,
            Write::NotModified { feed, .. } => feed,
            Write::Failed(f) => f.feed,
        }
    }
}

/// The feed's row id, creating the row on first sight (or updating its URL).
/// Takes a connection so that it also works inside a transaction.
fn upsert_feed(conn: &Connection, name: &str, url: &str) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO feeds(name, url) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET url = excluded.url RETURNING id",
        )?
        .query_row(params![name, url], |r| r.get(0))?)
}

fn mark_not_modified(conn: &Connection, feed: &str, url: &str, now: DateTime<Utc>) -> Result<()> {
    let id = upsert_feed(conn, feed, url)?;
    conn.prepare_cached(
        "UPDATE feeds SET last_fetch_at = ?2, last_status = 304, last_error = NULL, consecutive_errors = 0,
         failing_since = NULL, next_fetch_at = NULL
         WHERE id = ?1",
    )?
    .execute(params![id, to_ts(now)])?;
    Ok(())
}

/// Counts one more failure in a row on the feed's row.
fn count_failure(
    conn: &Connection,
    feed_id: i64,
    status: Option<u16>,
    error: &str,
    now: DateTime<Utc>,
) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "UPDATE feeds SET last_fetch_at = ?2, last_status = ?3, last_error = ?4,
             consecutive_errors = consecutive_errors + 1,
             failing_since = coalesce(failing_since, ?2) WHERE id = ?1
             RETURNING consecutive_errors",
        )?
        .query_row(params![feed_id, to_ts(now), status, error], |r| r.get(0))?)
}

/// A failure and its backoff, together.
fn record_failure(conn: &Connection, f: &Failure<'_>) -> Result<()> {
    let id = upsert_feed(conn, f.feed, f.url)?;
    let failures = count_failure(conn, id, f.status, f.error, f.now)?;
    conn.prepare_cached("UPDATE feeds SET next_fetch_at = ?2 WHERE id = ?1")?
        .execute(params![id, to_ts((f.retry_at)(failures))])?;
    Ok(())
}

/// A new item that may alert, waiting to be matched.
struct Candidate<'a> {
    item_id: i64,
    item: &'a Item,
    /// Index of its batch in the group.
    batch: usize,
}

impl Store {
    fn feed_id(&self, name: &str, url: &str) -> Result<i64> {
        upsert_feed(&self.conn, name, url)
    }

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
        let mut reports = Vec::with_capacity(group.len());
        let mut candidates: Vec<Candidate<'_>> = Vec::new();
        // Row ids only grow (INTEGER PRIMARY KEY, one writer): the group's
        // rows are those above the largest id before it.
        let last_before: i64 =
            tx.query_row("SELECT coalesce(max(id), 0) FROM items", [], |r| r.get(0))?;
        for (i, w) in group.iter().enumerate() {
            let mut report = IngestReport::default();
            match w {
                Write::Stored(b) => {
                    let stored = store_batch(&tx, b)?;
                    report.new_items = stored.new_items;
                    candidates.extend(stored.alerting.into_iter().map(|(item_id, item)| {
                        Candidate {
                            item_id,
                            item,
                            batch: i,
                        }
                    }));
                }
                Write::NotModified { feed, url, now } => mark_not_modified(&tx, feed, url, *now)?,
                Write::Failed(f) => record_failure(&tx, f)?,
            }
            reports.push(report);
        }
        // One statement for the whole group, so that it becomes one FTS5
        // segment (see 006_fts_by_group.sql).
        tx.prepare_cached(
            "INSERT INTO items_fts(rowid, title, summary, author, category, feed)
             SELECT id, title, summary, author, category, feed FROM items WHERE id > ?1",
        )?
        .execute([last_before])?;
        let feeds: Vec<&str> = group.iter().map(Write::feed).collect();
        let started = std::time::Instant::now();
        let found = match_candidates(&self.scratch, &feeds, &candidates, rules)?;
        self.matching += started.elapsed();
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO matches(item_id, rule, digest, snippet, title_marked, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(item_id, rule) DO NOTHING",
            )?;
            let mut counted = std::collections::HashSet::new();
            for m in &found {
                let now = match group.get(m.batch) {
                    Some(Write::Stored(b)) => b.now,
                    _ => Utc::now(),
                };
                insert.execute(params![
                    m.item_id,
                    m.rule.name,
                    m.rule.digest,
                    m.snippet,
                    m.title,
                    to_ts(now)
                ])?;
                if counted.insert(m.item_id)
                    && let Some(report) = reports.get_mut(m.batch)
                {
                    report.matched_items += 1;
                }
            }
        }
        tx.commit()?;
        Ok(reports)
    }

    /// A 304: nothing to parse, the feed is healthy.
    pub fn not_modified(&mut self, feed: &str, url: &str, now: DateTime<Utc>) -> Result<()> {
        mark_not_modified(&self.conn, feed, url, now)
    }

    /// A failed fetch or parse; shown in `status` (README, "Bad input").
    /// Returns how many times in a row the feed has now failed.
    pub fn record_failure(
        &mut self,
        feed: &str,
        url: &str,
        status: Option<u16>,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        let id = self.feed_id(feed, url)?;
        count_failure(&self.conn, id, status, error, now)
    }

    /// The feed is not to be fetched before `until` (backoff, Retry-After).
    pub fn defer(&mut self, feed: &str, until: DateTime<Utc>) -> Result<()> {
        self.conn.execute(
            "UPDATE feeds SET next_fetch_at = ?2 WHERE name = ?1",
            params![feed, to_ts(until)],
        )?;
        Ok(())
    }

    /// What a poll needs to know about every stored feed before fetching
    /// it, in one query (a poll of 1,000 feeds asked 3,000 times).
    pub fn poll_states(&self) -> Result<HashMap<String, PollState>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT name, etag, last_modified, next_fetch_at, moved_to, moved_count FROM feeds",
        )?;
        let rows = stmt.query_map([], |r| {
            let moved_to: Option<String> = r.get(4)?;
            let moved_count: i64 = r.get(5)?;
            Ok((
                r.get::<_, String>(0)?,
                PollState {
                    validators: Validators {
                        etag: r.get(1)?,
                        last_modified: r.get(2)?,
                    },
                    next_fetch_at: super::from_ts(r.get(3)?),
                    moved: moved_to.map(|to| (to, moved_count)),
                },
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// One feed's part of `ingest_many`: its new rows, its feed row.
struct Stored<'a> {
    new_items: usize,
    /// The new items that may alert (backfill), with their row ids.
    alerting: Vec<(i64, &'a Item)>,
}

fn store_batch<'a>(conn: &Connection, b: &Batch<'a>) -> Result<Stored<'a>> {
    let feed_id = upsert_feed(conn, b.feed, b.url)?;
    let first_fetch: bool = conn.query_row(
        "SELECT first_fetch_at IS NULL FROM feeds WHERE id = ?1",
        [feed_id],
        |r| r.get(0),
    )?;
    let now = to_ts(b.now);
    let mut fresh: Vec<(i64, &'a Item)> = Vec::new();
    // Links that several of this fetch's items share (a status page, an
    // agency's front page) identify no single item.
    let mut keys_per_link: HashMap<&str, std::collections::HashSet<&str>> = HashMap::new();
    for item in b.items {
        if let Some(link) = &item.link {
            keys_per_link.entry(link).or_default().insert(&item.key);
        }
    }
    {
        let mut keys_with_link = conn.prepare_cached(
            "SELECT count(*) FROM (SELECT 1 FROM seen WHERE feed_id = ?1 AND link = ?2 LIMIT 2)",
        )?;
        let mut remember = conn.prepare_cached(
            "INSERT INTO seen(feed_id, key, link) VALUES (?1, ?2, ?3) ON CONFLICT(feed_id, key) DO NOTHING",
        )?;
        let mut insert = conn.prepare_cached(
            "INSERT INTO items(feed_id, key, link, title, summary, author, category, feed, published, fetched_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for item in b.items {
            // README, "What is new": an item whose id changed but whose
            // canonical link is known in this feed is the same item — when
            // the link identifies one item: it is this fetch's only item
            // with that link, and one known item has it.
            if let Some(link) = &item.link
                && keys_per_link
                    .get(link.as_str())
                    .is_some_and(|keys| keys.len() == 1)
                && keys_with_link.query_row(params![feed_id, link], |r| r.get::<_, i64>(0))? == 1
            {
                continue;
            }
            // Identities are never pruned: seen once, never new again.
            if remember.execute(params![feed_id, item.key, item.link])? == 0 {
                continue;
            }
            insert.execute(params![
                feed_id,
                item.key,
                item.link,
                item.title,
                item.summary,
                item.author,
                item.category,
                b.feed,
                item.published.map(to_ts),
                now,
            ])?;
            fresh.push((conn.last_insert_rowid(), item));
        }
    }
    conn.execute(
        "UPDATE feeds SET etag = ?2, last_modified = ?3, first_fetch_at = coalesce(first_fetch_at, ?4),
         last_fetch_at = ?4, last_status = ?5, last_error = NULL, consecutive_errors = 0, failing_since = NULL,
         next_fetch_at = ?6,
         moved_count = CASE WHEN ?7 IS NULL THEN 0 WHEN moved_to IS ?7 THEN moved_count + 1 ELSE 1 END,
         moved_to = ?7
         WHERE id = ?1",
        params![
            feed_id,
            b.validators.etag,
            b.validators.last_modified,
            now,
            b.status,
            b.not_before.map(to_ts),
            b.moved_to
        ],
    )?;
    let new_items = fresh.len();
    let alerting = fresh
        .into_iter()
        .filter(|(_, item)| {
            !first_fetch
                || b.backfill_cutoff
                    .is_none_or(|cut| item.published.is_some_and(|p| p > cut))
        })
        .collect();
    Ok(Stored {
        new_items,
        alerting,
    })
}

struct Found<'r> {
    item_id: i64,
    batch: usize,
    rule: &'r CompiledRule,
    snippet: String,
    /// The title with the matched words marked.
    title: String,
}

/// Runs every rule over just the group's new items, in the scratch table, so
/// the cost does not grow with the archive (docs/DESIGN.md §3); a rule's match
/// counts only in the feeds it applies to.
fn match_candidates<'r>(
    scratch: &Connection,
    feeds_of_group: &[&str],
    candidates: &[Candidate<'_>],
    rules: &'r [CompiledRule],
) -> Result<Vec<Found<'r>>> {
    let feed_of = |batch: usize| feeds_of_group.get(batch).copied().unwrap_or("");
    // The feeds with candidates (they come batch by batch, so in runs).
    let mut feeds: Vec<&str> = candidates.iter().map(|c| feed_of(c.batch)).collect();
    feeds.dedup();
    let rules: Vec<&CompiledRule> = rules
        .iter()
        .filter(|r| feeds.iter().any(|f| r.applies_to(f)))
        .collect();
    if candidates.is_empty() || rules.is_empty() {
        return Ok(Vec::new());
    }
    // A fresh index per group: deleting rows from an FTS5 table leaves
    // tombstones that every later query has to read, so a long-lived
    // scratch table got slower with every batch (measured: 57 ms per batch
    // of 50 items with 100 rules, after 100,000 items).
    let tx = scratch.unchecked_transaction()?;
    tx.execute_batch("DELETE FROM staged;")?;
    tx.execute_batch(&super::scratch_index())?;
    let mut batch_of: HashMap<i64, usize> = HashMap::with_capacity(candidates.len());
    {
        let mut stage = tx.prepare_cached(
            "INSERT INTO staged(id, title, summary, author, category, feed) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for c in candidates {
            stage.execute(params![
                c.item_id,
                c.item.title,
                c.item.summary,
                c.item.author,
                c.item.category,
                feed_of(c.batch)
            ])?;
            batch_of.insert(c.item_id, c.batch);
        }
    }
    // One statement, so that the group becomes one FTS5 segment: row by
    // row, each insert was a segment of its own (006_fts_by_group.sql) and
    // every query merged them all.
    tx.execute_batch(
        "INSERT INTO batch(rowid, title, summary, author, category, feed)
         SELECT id, title, summary, author, category, feed FROM staged;",
    )?;
    tx.commit()?;
    let sql = format!(
        "SELECT rowid, {}, {} FROM batch WHERE batch MATCH ?1",
        snippet_sql(),
        title_sql()
    );
    let mut stmt = scratch.prepare_cached(&sql)?;
    let mut found = Vec::new();
    for rule in rules {
        let rows = stmt
            .query_map([&rule.fts_query], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| StoreError::BadQuery {
                rule: rule.name.clone(),
                message: e.to_string(),
            })?;
        for (item_id, snippet, title) in rows {
            let Some(&batch) = batch_of.get(&item_id) else {
                continue;
            };
            if rule.applies_to(feed_of(batch)) {
                found.push(Found {
                    item_id,
                    batch,
                    rule,
                    snippet,
                    title,
                });
            }
        }
    }
    mark_every_rule(scratch, &mut found)?;
    Ok(found)
}

/// The snippet FTS5 makes: from the summary (column 1), never the title,
/// which the digest shows anyway. Where the matched words are not in the
/// summary, it is the summary's beginning.
fn snippet_sql() -> String {
    format!("snippet(batch, 1, '{MARK_START}', '{MARK_END}', '…', 24)")
}

/// The whole title, the matched words marked.
fn title_sql() -> String {
    format!("highlight(batch, 0, '{MARK_START}', '{MARK_END}')")
}

/// An item several rules matched gets one snippet with the words of every
/// one of them marked: the snippet of their rules joined by OR.
fn mark_every_rule(scratch: &Connection, found: &mut [Found<'_>]) -> Result<()> {
    let mut rules_of: HashMap<i64, Vec<usize>> = HashMap::new();
    for (i, f) in found.iter().enumerate() {
        rules_of.entry(f.item_id).or_default().push(i);
    }
    let sql = format!(
        "SELECT {} FROM batch WHERE batch MATCH ?1 AND rowid = ?2",
        snippet_sql()
    );
    let mut stmt = scratch.prepare_cached(&sql)?;
    for (item_id, at) in rules_of.into_iter().filter(|(_, at)| at.len() > 1) {
        let either: Vec<String> = at
            .iter()
            .map(|&i| format!("({})", found[i].rule.fts_query))
            .collect();
        let snippet: String =
            stmt.query_row(params![either.join(" OR "), item_id], |r| r.get(0))?;
        for i in at {
            found[i].snippet.clone_from(&snippet);
        }
    }
    Ok(())
}
