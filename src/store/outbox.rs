//! Store, deliver side: pending matches are read, rendered elsewhere, and
//! become an outbox row in one transaction that also claims them; the row,
//! with its Message-ID fixed, is sent until a server accepts it, and only
//! then marked sent (docs/DESIGN.md §1; docs/digests.md, "Delivery": nothing is lost, at worst re-sent
//! with the same Message-ID).

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{Result, Store, StoreError, from_ts, to_ts};
use crate::model::{MatchView, OutboxEntry, SentStory};

/// Shingle hashes as stored: 8 bytes each, little-endian.
fn to_blob(hashes: &[u64]) -> Vec<u8> {
    hashes.iter().flat_map(|h| h.to_le_bytes()).collect()
}

fn from_blob(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
        .collect()
}

/// A message ready to be fixed in the outbox.
pub struct NewOutbox<'a> {
    pub digest: &'a str,
    pub message_id: &'a str,
    pub from: &'a str,
    pub recipients: &'a [String],
    pub message: &'a [u8],
    /// What the digest fixes with this message (its first part's).
    pub marks: &'a super::coverage::Marks,
}

impl Store {
    /// When `digest` last had a message written (any state), if it has
    /// one: `run --once` sends a scheduled digest only when an occurrence
    /// has come since (docs/reference.md, "Commands").
    pub(crate) fn last_composed(&self, digest: &str) -> Result<Option<DateTime<Utc>>> {
        let at: Option<i64> = self.conn.query_row(
            "SELECT max(created_at) FROM outbox WHERE digest = ?1",
            [digest],
            |r| r.get(0),
        )?;
        Ok(super::from_ts(at))
    }

    /// The pending matches of one digest, one entry per item (every rule that
    /// matched it listed), newest first. An item whose text cannot be read
    /// is among them, `unreadable`.
    pub fn pending(&self, digest: &str) -> Result<Vec<MatchView>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT m.id, m.item_id, m.rule, m.snippet, i.feed, i.title, i.link, i.published, i.summary,
                    i.fetched_at, coalesce(m.title_marked, i.title), m.in_article,
                    coalesce(m.rule_snippet, m.snippet)
             FROM matches m JOIN items i ON i.id = m.item_id
             WHERE m.digest = ?1 AND m.outbox_id IS NULL
             ORDER BY coalesce(i.published, i.fetched_at) DESC, i.id, m.id",
        )?;
        let rows = stmt.query_map([digest], |r| {
            // NULL: the text cannot be read (`damage`); the rest can.
            let summary: Option<String> = r.get(8)?;
            Ok(MatchView {
                match_ids: vec![r.get(0)?],
                item_id: r.get(1)?,
                rules: vec![r.get(2)?],
                snippet: r.get(3)?,
                feed: r.get(4)?,
                title: r.get(5)?,
                link: r.get(6)?,
                published: from_ts(r.get(7)?),
                unreadable: summary.is_none(),
                summary: summary.unwrap_or_default(),
                fetched_at: from_ts(r.get(9)?).unwrap_or_default(),
                title_marked: r.get(10)?,
                in_article: r.get(11)?,
                rule_snippets: vec![(r.get(2)?, r.get(12)?)],
                also_in: Vec::new(),
            })
        })?;
        let mut out: Vec<MatchView> = Vec::new();
        for row in rows {
            let row = row?;
            match out.last_mut() {
                Some(last) if last.item_id == row.item_id => {
                    last.match_ids.extend(row.match_ids);
                    last.rules.extend(row.rules);
                    last.rule_snippets.extend(row.rule_snippets);
                    // In the article only if every rule found it only there.
                    last.in_article &= row.in_article;
                }
                _ => out.push(row),
            }
        }
        Ok(out)
    }

    /// Pending items per digest (an item several rules matched counts once,
    /// as in the digest).
    pub(crate) fn pending_counts(&self) -> Result<Vec<(String, i64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT digest, count(DISTINCT item_id) FROM matches WHERE outbox_id IS NULL
             GROUP BY digest ORDER BY digest",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Writes the outbox row, claims `match_ids` for it and remembers the
    /// `stories` it reports, atomically. If another process claimed any of
    /// the matches first, nothing is written.
    pub(crate) fn enqueue(
        &mut self,
        m: &NewOutbox<'_>,
        match_ids: &[i64],
        stories: &[SentStory],
        now: DateTime<Utc>,
    ) -> Result<i64> {
        let recipients = serde_json::Value::from(m.recipients.to_vec()).to_string();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO outbox(digest, message_id, env_from, recipients, message, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                m.digest,
                m.message_id,
                m.from,
                recipients,
                m.message,
                to_ts(now)
            ],
        )?;
        let id = tx.last_insert_rowid();
        let mut claimed = 0;
        {
            let mut claim = tx.prepare_cached(
                "UPDATE matches SET outbox_id = ?1 WHERE id = ?2 AND outbox_id IS NULL",
            )?;
            for mid in match_ids {
                claimed += claim.execute(params![id, mid])?;
            }
        }
        if claimed != match_ids.len() {
            return Err(StoreError::Conflict); // dropping `tx` rolls back
        }
        {
            let mut remember = tx.prepare_cached(
                "INSERT INTO sent_stories(digest, sent_at, feed, title, link, shingles, lede)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for s in stories {
                remember.execute(params![
                    s.digest,
                    to_ts(s.sent_at),
                    s.feed,
                    s.title,
                    s.link,
                    to_blob(&s.shingles),
                    to_blob(&s.lede)
                ])?;
            }
        }
        super::coverage::record(&tx, m.digest, id, m.marks, now)?;
        tx.commit()?;
        Ok(id)
    }

    /// When each of `problems` was last shown in a digest.
    pub(crate) fn attention_shown(
        &self,
        problems: &[String],
    ) -> Result<std::collections::HashMap<String, DateTime<Utc>>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT shown_at FROM attention_shown WHERE problem = ?1")?;
        let mut out = std::collections::HashMap::new();
        for p in problems {
            use rusqlite::OptionalExtension;
            if let Some(at) = stmt.query_row([p], |r| r.get::<_, i64>(0)).optional()? {
                out.insert(p.clone(), from_ts(Some(at)).unwrap_or_default());
            }
        }
        Ok(out)
    }

    /// Records that `problems` were shown at `at`.
    pub(crate) fn record_attention_shown(
        &mut self,
        problems: &[String],
        at: DateTime<Utc>,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO attention_shown(problem, shown_at) VALUES (?1, ?2)
                 ON CONFLICT(problem) DO UPDATE SET shown_at = excluded.shown_at",
            )?;
            for p in problems {
                stmt.execute(params![p, to_ts(at)])?;
            }
        }
        Ok(tx.commit()?)
    }

    /// The stories `digest` reported since `since`.
    pub(crate) fn sent_stories(
        &self,
        digest: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<SentStory>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT digest, sent_at, feed, title, link, shingles, lede FROM sent_stories
             WHERE digest = ?1 AND sent_at >= ?2 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![digest, to_ts(since)], |r| {
            Ok(SentStory {
                digest: r.get(0)?,
                sent_at: from_ts(r.get(1)?).unwrap_or_default(),
                feed: r.get(2)?,
                title: r.get(3)?,
                link: r.get(4)?,
                shingles: from_blob(&r.get::<_, Vec<u8>>(5)?),
                lede: from_blob(&r.get::<_, Vec<u8>>(6)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Unsent outbox rows whose next attempt is due by `now`: of the
    /// digests named in `digests`, or of every digest.
    pub(crate) fn due(
        &self,
        now: DateTime<Utc>,
        digests: Option<&[String]>,
    ) -> Result<Vec<OutboxEntry>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, digest, message_id, env_from, recipients, message, attempts FROM outbox
             WHERE sent_at IS NULL AND next_attempt_at <= ?1
               AND (?2 IS NULL OR digest IN (SELECT value FROM json_each(?2)))
             ORDER BY id",
        )?;
        let digests = digests.map(|d| serde_json::Value::from(d.to_vec()).to_string());
        let rows = stmt.query_map(params![to_ts(now), digests], |r| {
            Ok((
                r.get::<_, String>(4)?,
                OutboxEntry {
                    id: r.get(0)?,
                    digest: r.get(1)?,
                    message_id: r.get(2)?,
                    from: r.get(3)?,
                    recipients: Vec::new(),
                    message: r.get(5)?,
                    attempts: r.get(6)?,
                },
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (recipients, mut entry) = row?;
            // A message with no readable recipients must not look like one
            // with none: say so, never send it to nobody.
            entry.recipients =
                serde_json::from_str(&recipients).map_err(|e| StoreError::BadValue {
                    what: format!("the recipients of outbox message {}", entry.id),
                    message: e.to_string(),
                })?;
            out.push(entry);
        }
        Ok(out)
    }

    pub(crate) fn mark_sent(&mut self, id: i64, now: DateTime<Utc>) -> Result<()> {
        self.conn.execute(
            "UPDATE outbox SET sent_at = ?2, attempts = attempts + 1, last_error = NULL WHERE id = ?1",
            params![id, to_ts(now)],
        )?;
        Ok(())
    }

    /// A failed attempt: the row stays, to be tried again at `retry_at`.
    pub(crate) fn mark_failed(
        &mut self,
        id: i64,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3 WHERE id = ?1",
            params![id, error, to_ts(retry_at)],
        )?;
        Ok(())
    }
}
