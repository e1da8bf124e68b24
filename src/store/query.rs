//! Store, read side: `search` runs a compiled rule's FTS5 query over the
//! archive's index (the live matcher evaluates the same rule's query tree
//! on each new item's tokens, and a differential test holds the two
//! equal, so a rule answers the same on history as it did live), and `status` reads
//! feed health and queue sizes. A hit's snippet is marked as the digest's
//! are (with the rule's mark query); where FTS5 cannot mark it, it is the
//! start of the text, unmarked: marks never cost a hit.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::{Result, Store, StoreError, from_ts, to_ts};
use crate::model::{
    ArticleTally, Attention, FailingFeed, FeedStatus, MARK_END, MARK_START, MovedFeed,
    NeverFetched, OutboxStatus, SearchHit, Undelivered,
};

/// FTS5's snippet of a hit: from the summary (column 1), as the digest's.
fn snippet_sql() -> String {
    format!("snippet(items_fts, 1, '{MARK_START}', '{MARK_END}', '…', 24)")
}

/// Where the search is: its query, scope, age and length.
struct Asked<'a> {
    fts_query: &'a str,
    feeds: Option<&'a [String]>,
    since: Option<DateTime<Utc>>,
    limit: usize,
}

/// One rule's match of an item and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub rule: String,
    pub digest: String,
    /// The digest message that carries it, once a digest took it.
    pub message_id: Option<String>,
    /// When that message was accepted by the server.
    pub sent_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Items matching `fts_query`, newest first; only from `feeds` when
    /// given (a rule's scope), only published since `since`.
    pub fn search(
        &self,
        fts_query: &str,
        feeds: Option<&[String]>,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Result<Vec<SearchHit>> {
        self.search_marked(fts_query, None, feeds, since, limit)
    }

    /// `search`, each hit's snippet marked with `mark_query` when given (a
    /// rule's `CompiledRule::mark_query`, for a query FTS5 marks wrong).
    /// Where FTS5's marks fail, the hits are still found: their snippets
    /// are asked one by one, and one FTS5 cannot mark is the start of its
    /// text. Only an error of the MATCH itself fails the search.
    pub fn search_marked(
        &self,
        fts_query: &str,
        mark_query: Option<&str>,
        feeds: Option<&[String]>,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Result<Vec<SearchHit>> {
        let asked = Asked {
            fts_query,
            feeds,
            since,
            limit,
        };
        if mark_query.is_none() {
            match self.hits(&asked, true) {
                Ok(mut hits) => {
                    self.unreadable_hits(&mut hits)?;
                    return Ok(hits);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "FTS5 cannot mark what this search finds; its snippets are made one by one")
                }
            }
        }
        let mut hits = self.hits(&asked, false)?;
        for hit in &mut hits {
            hit.snippet = self.hit_snippet(mark_query.unwrap_or(fts_query), hit.item_id)?;
        }
        self.unreadable_hits(&mut hits)?;
        Ok(hits)
    }

    /// Marks the hits whose stored text cannot be read (`damage`); their
    /// snippets go. One text unpacked per hit kept, not per hit found.
    fn unreadable_hits(&self, hits: &mut [SearchHit]) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT summary IS NULL FROM items WHERE id = ?1")?;
        for hit in hits {
            if stmt.query_row([hit.item_id], |r| r.get(0))? {
                hit.unreadable = true;
                hit.snippet.clear();
            }
        }
        Ok(())
    }

    /// The hits of `asked`, newest first, with FTS5's snippet when
    /// `snippets` (else an empty one). An error is the query's, or damage.
    fn hits(&self, asked: &Asked<'_>, snippets: bool) -> Result<Vec<SearchHit>> {
        let snippet = if snippets {
            snippet_sql()
        } else {
            "''".to_string()
        };
        let sql = format!(
            "SELECT i.id, i.feed, i.title, i.link, i.published, {snippet}
             FROM items_fts JOIN items i ON i.id = items_fts.rowid
             WHERE items_fts MATCH ?1 AND coalesce(i.published, i.fetched_at) >= ?2
               AND (?4 IS NULL OR i.feed IN (SELECT value FROM json_each(?4)))
             ORDER BY coalesce(i.published, i.fetched_at) DESC, i.id DESC
             LIMIT ?3"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let since = asked.since.map_or(i64::MIN, to_ts);
        let limit = i64::try_from(asked.limit).unwrap_or(i64::MAX);
        let feeds = asked
            .feeds
            .map(|f| serde_json::Value::from(f.to_vec()).to_string());
        let rows = stmt
            .query_map(params![asked.fts_query, since, limit, feeds], |r| {
                Ok(SearchHit {
                    item_id: r.get(0)?,
                    feed: r.get(1)?,
                    title: r.get(2)?,
                    link: r.get(3)?,
                    published: from_ts(r.get(4)?),
                    // NULL for a text that cannot be read (`damage`).
                    snippet: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                    unreadable: false,
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| match StoreError::from(e) {
                StoreError::Sqlite(e) => StoreError::BadQuery {
                    rule: "search".into(),
                    message: e.to_string(),
                },
                damage => damage,
            })?;
        Ok(rows)
    }

    /// The snippet of one hit, marked by FTS5 with `mark_query`, else the
    /// start of its text.
    fn hit_snippet(&self, mark_query: &str, item_id: i64) -> Result<String> {
        let marked = self
            .conn
            .prepare_cached(&format!(
                "SELECT {} FROM items_fts WHERE items_fts MATCH ?1 AND rowid = ?2",
                snippet_sql()
            ))?
            .query_row(params![mark_query, item_id], |r| {
                r.get::<_, Option<String>>(0)
            })
            .optional();
        if let Ok(Some(Some(snippet))) = marked {
            return Ok(snippet);
        }
        let text: Option<String> = self
            .conn
            .prepare_cached("SELECT summary FROM items WHERE id = ?1")?
            .query_row([item_id], |r| r.get(0))
            .optional()?
            .flatten();
        Ok(text
            .unwrap_or_default()
            .split_whitespace()
            .take(24)
            .collect::<Vec<_>>()
            .join(" "))
    }

    /// The `per_feed` latest items (title, text) of each of `feeds`: a
    /// digest finds each feed's boilerplate in them. An item whose text
    /// cannot be read is left out.
    pub(crate) fn recent_texts(
        &self,
        feeds: &[String],
        per_feed: usize,
    ) -> Result<std::collections::HashMap<String, Vec<(String, String)>>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT i.title, i.summary FROM items i JOIN feeds f ON f.id = i.feed_id
             WHERE f.name = ?1 ORDER BY i.id DESC LIMIT ?2",
        )?;
        let limit = i64::try_from(per_feed).unwrap_or(i64::MAX);
        let mut out = std::collections::HashMap::new();
        for feed in feeds {
            let rows = stmt.query_map(params![feed, limit], |r| {
                Ok((r.get(0)?, r.get::<_, Option<String>>(1)?))
            })?;
            let mut texts = Vec::new();
            for row in rows {
                if let (title, Some(text)) = row? {
                    texts.push((title, text));
                }
            }
            out.insert(feed.clone(), texts);
        }
        Ok(out)
    }

    /// What became of each of `item_ids`'s matches (`search --json`): the
    /// rule, its digest, and, once a digest took it, the message's
    /// Message-ID and when it was sent (`None` while pending or queued).
    pub(crate) fn deliveries(&self, item_ids: &[i64]) -> Result<HashMap<i64, Vec<Delivery>>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT m.rule, m.digest, o.message_id, o.sent_at
             FROM matches m LEFT JOIN outbox o ON o.id = m.outbox_id
             WHERE m.item_id = ?1 ORDER BY m.id",
        )?;
        let mut out = HashMap::new();
        for id in item_ids {
            let rows = stmt.query_map([id], |r| {
                Ok(Delivery {
                    rule: r.get(0)?,
                    digest: r.get(1)?,
                    message_id: r.get(2)?,
                    sent_at: from_ts(r.get(3)?),
                })
            })?;
            out.insert(*id, rows.collect::<rusqlite::Result<Vec<_>>>()?);
        }
        Ok(out)
    }

    /// Health of every feed the database knows.
    pub fn feed_status(&self) -> Result<Vec<FeedStatus>> {
        // An archive read while it is upgraded (`open_read_only`) may not
        // have the column yet.
        let success = if self.schema_version()? >= 15 {
            "f.last_success_at"
        } else {
            "NULL"
        };
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT f.name, f.url, f.last_fetch_at, f.last_status,
                    (SELECT count(*) FROM items i WHERE i.feed_id = f.id),
                    f.consecutive_errors, f.last_error, f.next_fetch_at, f.moved_to,
                    f.articles_fetched, f.articles_failed, f.last_article_error, {success}
             FROM feeds f ORDER BY f.name"
        ))?;
        let rows = stmt.query_map([], |r| {
            Ok(FeedStatus {
                name: r.get(0)?,
                url: r.get(1)?,
                last_fetch: from_ts(r.get(2)?),
                last_status: r.get(3)?,
                items: r.get(4)?,
                consecutive_errors: r.get(5)?,
                last_error: r.get(6)?,
                next_fetch: from_ts(r.get(7)?),
                moved_to: r.get(8)?,
                articles: ArticleTally {
                    fetched: r.get(9)?,
                    failed: r.get(10)?,
                    last_error: r.get(11)?,
                },
                last_success: from_ts(r.get(12)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn outbox_status(&self) -> Result<OutboxStatus> {
        Ok(self.conn.query_row(
            "SELECT coalesce(sum(sent_at IS NULL AND attempts = 0), 0),
                    coalesce(sum(sent_at IS NULL AND attempts > 0), 0),
                    coalesce(sum(sent_at IS NOT NULL), 0)
             FROM outbox",
            [],
            |r| {
                Ok(OutboxStatus {
                    queued: r.get(0)?,
                    failed: r.get(1)?,
                    sent: r.get(2)?,
                })
            },
        )?)
    }

    /// The last error of each unsent outbox row that has failed at least once.
    pub fn outbox_errors(&self) -> Result<Vec<(String, i64, String)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT digest, attempts, coalesce(last_error, '') FROM outbox
             WHERE sent_at IS NULL AND attempts > 0 ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Feeds that have failed `failing_after` polls in a row or more (a
    /// feed that never worked at its first failure), gone feeds, and unsent
    /// messages that have failed at least once.
    pub fn attention(&self, failing_after: i64) -> Result<Attention> {
        let mut a = Attention::default();
        let mut stmt = self.conn.prepare_cached(
            "SELECT name, failing_since, coalesce(last_error, ''), last_status,
                    first_fetch_at IS NULL, consecutive_errors FROM feeds
             WHERE failing_since IS NOT NULL ORDER BY name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, bool>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })?;
        for row in rows {
            let (name, since, error, status, never, failures) = row?;
            if status == Some(410) {
                a.gone.push(name);
            } else if never {
                a.never_fetched.push(NeverFetched { feed: name, error });
            } else if failures >= failing_after
                && let Some(since) = from_ts(Some(since))
            {
                a.failing.push(FailingFeed {
                    feed: name,
                    since,
                    polls: failures,
                    error,
                });
            }
        }
        a.moved = self.moved_feeds()?;
        a.undelivered = self.undelivered()?;
        Ok(a)
    }

    /// Feeds whose URL redirects permanently, and where to.
    fn moved_feeds(&self) -> Result<Vec<MovedFeed>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT name, moved_to FROM feeds WHERE moved_to IS NOT NULL ORDER BY name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(MovedFeed {
                feed: r.get(0)?,
                to: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Unsent messages that have failed at least once.
    fn undelivered(&self) -> Result<Vec<Undelivered>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT digest, created_at, attempts, coalesce(last_error, '') FROM outbox
             WHERE sent_at IS NULL AND attempts > 0 ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Undelivered {
                digest: r.get(0)?,
                written_at: from_ts(Some(r.get(1)?)).unwrap_or_default(),
                attempts: r.get(2)?,
                error: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
