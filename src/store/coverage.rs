//! Store, digest side: what a digest covered since its last message, and
//! the outages an immediate digest has told (schema 16; docs/digests.md, "Coverage
//! and outages"). Each feed's row keeps counters that only grow (successful
//! fetches, new items checked against the rules, articles that could not
//! be read); a digest
//! keeps them as they were at its last message, and what it covered is the
//! difference. So the cost is one row per digest and feed, however often
//! feeds are polled; and a poll belongs to the period it was counted in,
//! whatever the clock's resolution. A feed was read when it had a
//! successful fetch (a 200 or a 304).

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};

use super::{Result, Store, StoreError, from_ts, to_ts};
use crate::model::Coverage;

/// A feed's counters as a digest saw them when it was composed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    pub feed: String,
    pub polls_ok: i64,
    pub items_checked: i64,
    pub articles_unread: i64,
}

/// A feed an immediate digest said was down, and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Told {
    pub feed: String,
    pub since: DateTime<Utc>,
    /// Fetched successfully since, or failing since a later time: its
    /// outage is over (read, not stored).
    pub over: bool,
}

/// What a digest's message fixes along with it, in the same transaction.
#[derive(Debug, Clone, Default)]
pub struct Marks {
    /// The digest's last message when this one was composed (`Store::
    /// last_message`): the message is written only if it still is, so two
    /// processes composing the same digest at once send it once — a
    /// message with no matches to claim would not otherwise conflict.
    /// `None`: not checked (a part after the first).
    pub follows: Option<Option<i64>>,
    /// The counters its coverage was counted to (scheduled digests).
    pub coverage: Vec<Counters>,
    /// Every outage of its feeds its readers now know of (immediate
    /// digests); `None` leaves the record as it is.
    pub told: Option<Vec<(String, DateTime<Utc>)>>,
}

impl Store {
    /// The id of `digest`'s last message, if it has one.
    pub(crate) fn last_message(&self, digest: &str) -> Result<Option<i64>> {
        Ok(self.conn.query_row(
            "SELECT max(id) FROM outbox WHERE digest = ?1",
            [digest],
            |r| r.get(0),
        )?)
    }

    /// What `digest` covered over `feeds` (its own) since its last message,
    /// and the counters to keep with the next one.
    pub fn coverage(&self, digest: &str, feeds: &[String]) -> Result<(Coverage, Vec<Counters>)> {
        let mut now_stmt = self.conn.prepare_cached(
            "SELECT polls_ok, items_checked, articles_unread, first_fetch_at
             FROM feeds WHERE name = ?1",
        )?;
        let mut then_stmt = self.conn.prepare_cached(
            "SELECT polls_ok, items_checked, articles_unread FROM coverage
             WHERE digest = ?1 AND feed = ?2",
        )?;
        // Since its last message: the one that kept counters, else (the
        // first since this was counted) its last message at all.
        let last: Option<i64> = self.conn.query_row(
            "SELECT coalesce((SELECT max(at) FROM coverage WHERE digest = ?1),
                             (SELECT max(created_at) FROM outbox WHERE digest = ?1))",
            [digest],
            |r| r.get(0),
        )?;
        let from = from_ts(last);
        let mut c = Coverage {
            from,
            feeds: feeds.len(),
            ..Coverage::default()
        };
        let mut first_fetch: Option<i64> = None;
        let mut counters = Vec::with_capacity(feeds.len());
        for feed in feeds {
            let now = now_stmt
                .query_row([feed], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                    ))
                })
                .optional()?;
            let Some((polls, items, unread, first)) = now else {
                // Never polled yet: nothing covered, nothing to keep.
                c.unread.push(feed.clone());
                continue;
            };
            if let Some(first) = first {
                first_fetch = Some(first_fetch.map_or(first, |f| f.min(first)));
            }
            // A feed with no counters kept for this digest (new, or new to
            // its rules) counts from zero: from when this was counted.
            let then = then_stmt
                .query_row(params![digest, feed], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })
                .optional()?
                .unwrap_or_default();
            // Counters only grow; one smaller than kept (a database restored
            // from a backup) counts from zero.
            let delta = |now: i64, then: i64| if now >= then { now - then } else { now };
            if delta(polls, then.0) > 0 {
                c.read += 1;
            } else {
                c.unread.push(feed.clone());
            }
            c.items += delta(items, then.1);
            let unreadable = delta(unread, then.2);
            if unreadable > 0 {
                c.unreadable_articles.push((feed.clone(), unreadable));
            }
            counters.push(Counters {
                feed: feed.clone(),
                polls_ok: polls,
                items_checked: items,
                articles_unread: unread,
            });
        }
        if c.from.is_none() {
            c.from = from_ts(first_fetch);
        }
        Ok((c, counters))
    }

    /// The outages `digest` has told its readers of, each with whether it
    /// is over.
    pub(crate) fn outages_told(&self, digest: &str) -> Result<Vec<Told>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT t.feed, t.since, f.failing_since FROM outages_told t
             LEFT JOIN feeds f ON f.name = t.feed
             WHERE t.digest = ?1 ORDER BY t.feed",
        )?;
        let rows = stmt.query_map([digest], |r| {
            let since: i64 = r.get(1)?;
            let failing: Option<i64> = r.get(2)?;
            Ok((r.get::<_, String>(0)?, since, failing))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (feed, since, failing) = row?;
            if let Some(at) = from_ts(Some(since)) {
                out.push(Told {
                    feed,
                    since: at,
                    over: failing != Some(since),
                });
            }
        }
        Ok(out)
    }
}

/// Fixes `marks` of `digest` as of `at`, inside the transaction that writes
/// its message (`id`); another message of the digest written since it was
/// composed is a conflict.
pub(super) fn record(
    tx: &Transaction<'_>,
    digest: &str,
    id: i64,
    marks: &Marks,
    at: DateTime<Utc>,
) -> Result<()> {
    if let Some(follows) = marks.follows {
        let last: Option<i64> = tx.query_row(
            "SELECT max(id) FROM outbox WHERE digest = ?1 AND id <> ?2",
            params![digest, id],
            |r| r.get(0),
        )?;
        if last != follows {
            return Err(StoreError::Conflict);
        }
    }
    let mut keep = tx.prepare_cached(
        "INSERT INTO coverage(digest, feed, polls_ok, items_checked, articles_unread, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(digest, feed) DO UPDATE SET polls_ok = excluded.polls_ok,
             items_checked = excluded.items_checked,
             articles_unread = excluded.articles_unread, at = excluded.at",
    )?;
    for c in &marks.coverage {
        keep.execute(params![
            digest,
            c.feed,
            c.polls_ok,
            c.items_checked,
            c.articles_unread,
            to_ts(at)
        ])?;
    }
    if let Some(told) = &marks.told {
        tx.execute("DELETE FROM outages_told WHERE digest = ?1", [digest])?;
        let mut add =
            tx.prepare_cached("INSERT INTO outages_told(digest, feed, since) VALUES (?1, ?2, ?3)")?;
        for (feed, since) in told {
            add.execute(params![digest, feed, to_ts(*since)])?;
        }
    }
    Ok(())
}
