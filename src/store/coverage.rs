//! Store, digest side: what a digest covered since its last message, and
//! the outages an immediate digest has told (schema 16; README, "Coverage
//! and outages"). Each feed's row keeps counters that only grow (successful
//! polls, new items, articles that failed); a digest keeps them as they
//! were at its last message, and what it covered is the difference. So the
//! cost is one row per digest and feed, however often feeds are polled.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};

use super::{Result, Store, from_ts, to_ts};
use crate::model::Coverage;

/// A feed's counters as a digest saw them when it was composed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    pub feed: String,
    pub polls_ok: i64,
    pub items_seen: i64,
    pub articles_failed: i64,
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
    /// The counters its coverage was counted to (scheduled digests).
    pub coverage: Vec<Counters>,
    /// Every outage of its feeds its readers now know of (immediate
    /// digests); `None` leaves the record as it is.
    pub told: Option<Vec<(String, DateTime<Utc>)>>,
}

impl Store {
    /// What `digest` covered over `feeds` (its own) since its last message,
    /// and the counters to keep with the next one.
    pub fn coverage(&self, digest: &str, feeds: &[String]) -> Result<(Coverage, Vec<Counters>)> {
        let mut now_stmt = self.conn.prepare_cached(
            "SELECT polls_ok, items_seen, articles_failed, first_fetch_at FROM feeds WHERE name = ?1",
        )?;
        let mut then_stmt = self.conn.prepare_cached(
            "SELECT polls_ok, items_seen, articles_failed FROM coverage
             WHERE digest = ?1 AND feed = ?2",
        )?;
        let last: Option<i64> = self.conn.query_row(
            "SELECT max(at) FROM coverage WHERE digest = ?1",
            [digest],
            |r| r.get(0),
        )?;
        let mut c = Coverage {
            from: from_ts(last),
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
            let Some((polls, items, failed, first)) = now else {
                // Never polled yet: nothing covered, nothing to keep.
                c.unread.push(feed.clone());
                continue;
            };
            if let Some(first) = first {
                first_fetch = Some(first_fetch.map_or(first, |f| f.min(first)));
            }
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
            let unreadable = delta(failed, then.2);
            if unreadable > 0 {
                c.unreadable_articles.push((feed.clone(), unreadable));
            }
            counters.push(Counters {
                feed: feed.clone(),
                polls_ok: polls,
                items_seen: items,
                articles_failed: failed,
            });
        }
        if c.from.is_none() {
            c.from = from_ts(first_fetch);
        }
        Ok((c, counters))
    }

    /// The outages `digest` has told its readers of, each with whether it
    /// is over.
    pub fn outages_told(&self, digest: &str) -> Result<Vec<Told>> {
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
/// its message.
pub(super) fn record(
    tx: &Transaction<'_>,
    digest: &str,
    marks: &Marks,
    at: DateTime<Utc>,
) -> Result<()> {
    let mut keep = tx.prepare_cached(
        "INSERT INTO coverage(digest, feed, polls_ok, items_seen, articles_failed, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(digest, feed) DO UPDATE SET polls_ok = excluded.polls_ok,
             items_seen = excluded.items_seen, articles_failed = excluded.articles_failed,
             at = excluded.at",
    )?;
    for c in &marks.coverage {
        keep.execute(params![
            digest,
            c.feed,
            c.polls_ok,
            c.items_seen,
            c.articles_failed,
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
