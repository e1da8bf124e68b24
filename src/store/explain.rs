//! Store, read side: what `feedwatch explain` (docs/reference.md, "Commands") needs to
//! say why an item did or did not alert: the item and its feed's first
//! fetch, whether it waits for its article or its text cannot be read,
//! items elsewhere with the same link, every match it has with its digest
//! and outbox row, and whether one clause of a rule finds it in the
//! archive index (the index `search` asks). Reads only.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::{Result, Store, StoreError, from_ts};

/// One stored item, as `explain` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemFacts {
    pub id: i64,
    pub feed: String,
    pub title: String,
    pub link: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub fetched_at: DateTime<Utc>,
    /// The feed's first successful fetch: items of that fetch older than
    /// `backfill` are stored but never alert.
    pub first_fetch_at: Option<DateTime<Utc>>,
    /// Held for its article, unmatched yet (`full_text`).
    pub held: bool,
    /// Why its stored text cannot be read, if it cannot.
    pub unreadable: Option<String>,
}

/// One match of an item: the rule, its digest, and the message that took it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchFacts {
    pub rule: String,
    pub digest: String,
    pub matched_at: DateTime<Utc>,
    pub message: Option<MessageFacts>,
}

/// An outbox row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageFacts {
    pub id: i64,
    pub message_id: String,
    pub written_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

impl Store {
    /// The stored items `item` names: an item id (as `search --json` gives
    /// it), or a link (each of `links`: as given and canonical), oldest first.
    pub(crate) fn items_named(&self, id: Option<i64>, links: &[String]) -> Result<Vec<i64>> {
        if let Some(id) = id {
            let found: Option<i64> = self
                .conn
                .query_row("SELECT id FROM items WHERE id = ?1", [id], |r| r.get(0))
                .optional()?;
            return Ok(found.into_iter().collect());
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM items WHERE link = ?1 ORDER BY id")?;
        let mut out: Vec<i64> = Vec::new();
        for link in links {
            for id in stmt.query_map([link], |r| r.get(0))? {
                let id = id?;
                if !out.contains(&id) {
                    out.push(id);
                }
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    /// The feeds that remember `links` among the identities they have seen
    /// (an item pruned by retention is remembered, never stored again).
    pub(crate) fn feeds_remembering(&self, links: &[String]) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT f.name FROM seen s JOIN feeds f ON f.id = s.feed_id
             WHERE s.link = ?1 ORDER BY f.name",
        )?;
        let mut out: Vec<String> = Vec::new();
        for link in links {
            for name in stmt.query_map([link], |r| r.get(0))? {
                let name = name?;
                if !out.contains(&name) {
                    out.push(name);
                }
            }
        }
        Ok(out)
    }

    pub(crate) fn item_facts(&self, id: i64) -> Result<Option<ItemFacts>> {
        self.conn
            .query_row(
                "SELECT i.id, i.feed, i.title, i.link, i.published, i.fetched_at, f.first_fetch_at,
                        EXISTS (SELECT 1 FROM held h WHERE h.item_id = i.id),
                        (SELECT u.error FROM unreadable u WHERE u.item_id = i.id)
                 FROM items i JOIN feeds f ON f.id = i.feed_id WHERE i.id = ?1",
                [id],
                |r| {
                    Ok(ItemFacts {
                        id: r.get(0)?,
                        feed: r.get(1)?,
                        title: r.get(2)?,
                        link: r.get(3)?,
                        published: from_ts(r.get(4)?),
                        fetched_at: from_ts(r.get(5)?).unwrap_or_default(),
                        first_fetch_at: from_ts(r.get(6)?),
                        held: r.get(7)?,
                        unreadable: r.get(8)?,
                    })
                },
            )
            .optional()
            .map_err(Into::into)
    }

    /// Every match of item `id`, in rule order of matching, with the
    /// message that took it.
    pub(crate) fn item_matches(&self, id: i64) -> Result<Vec<MatchFacts>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT m.rule, m.digest, m.created_at, o.id, o.message_id, o.created_at, o.sent_at,
                    o.attempts, o.last_error, o.next_attempt_at
             FROM matches m LEFT JOIN outbox o ON o.id = m.outbox_id
             WHERE m.item_id = ?1 ORDER BY m.id",
        )?;
        let rows = stmt.query_map([id], |r| {
            let message = match r.get::<_, Option<i64>>(3)? {
                Some(id) => Some(MessageFacts {
                    id,
                    message_id: r.get(4)?,
                    written_at: from_ts(r.get(5)?).unwrap_or_default(),
                    sent_at: from_ts(r.get(6)?),
                    attempts: r.get(7)?,
                    last_error: r.get(8)?,
                    next_attempt_at: from_ts(r.get::<_, Option<i64>>(9)?.filter(|t| *t > 0)),
                }),
                None => None,
            };
            Ok(MatchFacts {
                rule: r.get(0)?,
                digest: r.get(1)?,
                matched_at: from_ts(r.get(2)?).unwrap_or_default(),
                message,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Whether the FTS5 query `fts` finds item `id` in the archive index.
    pub(crate) fn index_finds(&self, id: i64, fts: &str) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT count(*) FROM items_fts WHERE items_fts MATCH ?1 AND rowid = ?2",
                params![fts, id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| match StoreError::from(e) {
                StoreError::Sqlite(e) => StoreError::BadQuery {
                    rule: "explain".into(),
                    message: e.to_string(),
                },
                damage => damage,
            })
    }
}
